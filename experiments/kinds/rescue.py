"""Rescuing a run that goes wrong by changing a hyperparameter while it trains (note 001: "can
still save the model by changing a parameter").

Two runs that go wrong from too high a learning rate (plain SGD, [params]), each against the
same run left alone (same seed: same initialization and data order):

- `explode_learning_rate` (default 2.0): the loss blows up within the first epoch. Left alone,
  the divergence guard stops the run (diverged). Rescued: the same guard with rollback
  (`divergence_rollback = true`, callbacks.DivergenceGuard): on divergence it restores the last
  good weights and optimizer state and lowers the rate 10x, up to 3 times.
- `oscillate_learning_rate` (default 1.0): the training loss rises from one epoch to the next and
  may later explode. Rescued by a person's edit: callbacks.HyperparameterControl applies an edit
  of the run's `hyperparameters.json`; the edit is scripted here (`ScriptedEdit`): as soon as
  an epoch's running training loss (after 10 batches) rises above the previous epoch's, the
  learning rate in the file is divided by 10. And rescued automatically: callbacks.ReduceLROnPlateau on the
  training loss (patience 0, factor 0.1).

Measurements, per seed, for the claims in the experiment file: the rescued run's final validation
accuracy minus the one left alone; a run that diverged or failed has no trained network and
counts as chance accuracy (1 / classes), one that did not learn keeps its accuracy.
"""

import json
import math
import os

from experiments.kinds import training_runs
from experiments.kinds.result import KindResult

DEFAULT_PARAMS = {
    "explode_learning_rate": 2.0,
    "oscillate_learning_rate": 1.0,
    "edit_factor": 0.1,  # the scripted person's change, and ReduceLROnPlateau's factor
    "epochs": 8,
    "batch_size": 32,
    "width": 128,
    "limit": 0,  # examples of digits (0: all)
    # The guard's threshold, the same in every arm: a loss 10x its start is already lost on digits
    # (a network whose ReLUs the explosion killed can otherwise sit below 1000x at chance).
    "divergence_factor": 10.0,
}
CHANCE_ACCURACY = 0.1  # digits: 10 classes


def check_params(params):
    for name in ("explode_learning_rate", "oscillate_learning_rate"):
        if not params[name] > 0:
            raise ValueError(f"params.{name} must be > 0; got {params[name]!r}")
    if not 0 < params["edit_factor"] < 1:
        raise ValueError(f"params.edit_factor must be in (0, 1); got {params['edit_factor']!r}")
    for name in ("epochs", "batch_size", "width"):
        if params[name] < 1:
            raise ValueError(f"params.{name} must be >= 1; got {params[name]!r}")
    if params["limit"] and params["limit"] < 20:
        raise ValueError(f"params.limit must be 0 (all) or >= 20; got {params['limit']!r}")
    if not params["divergence_factor"] > 1:
        raise ValueError(f"params.divergence_factor must be > 1; got {params['divergence_factor']!r}")


def scripted_edit_class():
    import keras

    from callbacks.hyperparameter_control import CONTROL_FILENAME

    class ScriptedEdit(keras.callbacks.Callback):
        """Stands in for a person watching the run: once the training loss of the current epoch
        (Keras's running mean, after `after_batches` batches) rises above the previous epoch's,
        multiplies `learning_rate` in the run's hyperparameters.json by `factor`, once.
        HyperparameterControl, after it in the callback list, applies the edit at its next check."""

        def __init__(self, log_dir, factor, after_batches=10):
            super().__init__()
            self.path = os.path.join(log_dir, CONTROL_FILENAME)
            self.factor = factor
            self.after_batches = after_batches
            self.previous = math.inf
            self.edited_at_step = None

        def on_train_batch_end(self, batch, logs=None):
            loss = float((logs or {}).get("loss", math.nan))
            rose = not math.isfinite(loss) or loss > self.previous
            if self.edited_at_step is None and batch + 1 >= self.after_batches and rose:
                with open(self.path) as f:
                    values = json.load(f)
                values["learning_rate"] = values["learning_rate"] * self.factor
                with open(self.path, "w") as f:
                    json.dump(values, f)
                self.edited_at_step = int(self.model.optimizer.iterations.numpy())

        def on_epoch_end(self, epoch, logs=None):
            self.previous = float((logs or {}).get("loss", math.nan))

    return ScriptedEdit


def rescue_callbacks(run, logdir, factor):
    """The extra callbacks of a run: the scripted person's edit, the plateau reduction, or none
    (rollback is the divergence guard's own `divergence_rollback` setting)."""
    from callbacks import HyperparameterControl, ReduceLROnPlateau

    run_dir = run.directory(logdir)
    if run.group.endswith("_person"):
        return [scripted_edit_class()(run_dir, factor), HyperparameterControl(run_dir, check_every_n_batches=1, verbose=0)]
    if run.group.endswith("_plateau"):
        return [ReduceLROnPlateau(monitor="loss", factor=factor, patience=0)]
    return []


ARMS = {
    "explode_alone": ("explode_learning_rate", {}),
    "explode_rollback": ("explode_learning_rate", {"divergence_rollback": True}),
    "oscillate_alone": ("oscillate_learning_rate", {}),
    "oscillate_person": ("oscillate_learning_rate", {}),
    "oscillate_plateau": ("oscillate_learning_rate", {}),
}
RESCUES = {"explode_rollback": "explode_alone", "oscillate_person": "oscillate_alone", "oscillate_plateau": "oscillate_alone"}


def _accuracy(record):
    if record.get("status") in ("diverged", "failed"):
        return CHANCE_ACCURACY
    value = (record.get("metrics") or {}).get("val_accuracy")
    return float(value) if value is not None and math.isfinite(value) else CHANCE_ACCURACY


def run(params, seeds, exp_dir, trainer):
    check_params(params)
    # One step per call of the train function: the guard then sees every step's loss, so the
    # rollback has a healthy snapshot to return to before the first NaN (with 16 steps per call
    # the first loss it sees may already be NaN).
    fixed = {
        "optimizer": "sgd", "epochs": params["epochs"], "batch_size": params["batch_size"], "width": params["width"],
        "steps_per_execution": 1, "divergence_factor": params["divergence_factor"],
    }  # fmt: skip
    if params["limit"]:
        fixed["limit"] = params["limit"]
    arms = {label: {**fixed, "learning_rate": params[rate], **extra} for label, (rate, extra) in ARMS.items()}
    logdir = os.path.dirname(os.path.normpath(exp_dir))
    by_arm = trainer.train_arms(
        arms, seeds, callbacks_for=lambda run: rescue_callbacks(run, logdir, params["edit_factor"])
    )
    measurements = {}
    for rescued, alone in RESCUES.items():
        pairs = list(zip(sorted(by_arm[alone], key=_seed), sorted(by_arm[rescued], key=_seed)))
        assert all(_seed(a) == _seed(b) for a, b in pairs)
        measurements[f"val_accuracy_{rescued}_minus_alone"] = [_accuracy(b) - _accuracy(a) for a, b in pairs]
        measurements[f"learned_{rescued}_minus_alone"] = [float(b["status"] == "ok") - float(a["status"] == "ok") for a, b in pairs]
    records = [r for arm in by_arm.values() for r in arm]
    table, figures = training_runs.write_outputs(exp_dir, records, ["learning_rate", "divergence_rollback"], "Runs that go wrong: left alone or rescued")
    table.insert(1, "changes while training", [_changes(exp_dir, label, seeds) for label in by_arm])
    return KindResult(table, [], figures, measurements)


def _seed(record):
    return record["config"]["seed"]


def _changes(exp_dir, label, seeds):
    """How many seeds of an arm had their rate changed mid-run: rollbacks or applied edits."""
    from callbacks.divergence_guard import ROLLBACKS_FILE
    from callbacks.learning_rate_control import CHANGES_FILENAME

    changed = 0
    for seed in range(seeds):
        run_dir = os.path.join(exp_dir, f"{label}_seed{seed}")
        changed += any(os.path.exists(os.path.join(run_dir, name)) for name in (ROLLBACKS_FILE, CHANGES_FILENAME))
    return f"{changed}/{seeds}" if label.endswith(("_rollback", "_person")) else ""
