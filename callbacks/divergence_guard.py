"""Stops (or rolls back) a run whose loss becomes NaN/Inf or grows too far, and records why."""

import math
import os
import warnings

import keras

from callbacks.gradient_statistics import GradientStatistics
from callbacks.json_files import write_json_atomic
from callbacks.learning_rate_control import make_learning_rate_adjustable, reduce_learning_rate
from callbacks.summary_writers import StepCounter, SummaryWriter
from optimizers.introspection import applied_learning_rate, state_variables
from optimizers.validation import (
    check_bool,
    check_choice,
    check_positive,
    check_positive_integer,
)

RECORD_FILE = "divergence.json"
ROLLBACKS_FILE = "rollbacks.json"
REFERENCES = ("initial", "best")


class DivergenceGuard(keras.callbacks.Callback):
    """Stops a run whose loss becomes NaN or Inf or grows past a multiple of its reference,
    and records why; optionally rolls back to the last good state and lowers the learning rate.

    After each training batch it reads `logs["loss"]`, which in Keras 3 is the *running mean*
    of the batch losses since the epoch began (it is reset each epoch), and diverges when

    ```python
    not isfinite(loss)                              # one NaN/Inf batch makes the mean NaN/Inf
    loss > max_loss_ratio * reference               # only when reference > 0
    reference = initial_loss, if given, else        # reference="initial" (the notes' "starting value")
                the first batch loss of the fit
    reference = lowest running mean seen so far     # reference="best"
    ```

    The mean lags a sudden rise: a single batch at batch index k of the epoch moves it by
    1/(k+1) of the jump, so a one-batch spike trips the guard only if it is (k+1) times larger;
    a sustained rise trips within a few batches, and at the latest on the next epoch's first
    batch, where the mean is that batch's loss.

    On divergence (without rollback, or once `max_rollbacks` are used up) it sets
    `model.stop_training = True` (the epoch ends, `on_epoch_end` and `on_train_end` still run
    for every callback) and records, never raising:
    - `self.record`: `{"reason": "loss_nan" | "loss_inf" | "loss_growth", "message", "step",
      "epoch", "batch", "loss", "reference_loss", "max_loss_ratio", "learning_rate",
      "gradient_norm", "gradient_norm_step", "rollbacks"}`. `step` is the 1-based optimizer
      step whose loss tripped it, `learning_rate` the rate that step applied, `gradient_norm`
      the global gradient norm last measured by `gradient_statistics` (None without it).
      `self.record` is None for a run that did not diverge.
    - `log_dir/divergence.json`: the same, written atomically (NaN and Inf as null); present
      only for a diverged run. The experiment runner reads it.
    - TensorBoard, in `log_dir/train`: scalar `divergence/diverged` (1 at the step) and text
      `divergence/reason`.

    Rollback (`rollback=True`): every `snapshot_every_n_steps` steps it copies the model's
    weights and the optimizer's slot variables (moments, accumulators) as the step begins, and
    keeps the copy once that step's loss, computed at those weights, is healthy. On
    divergence it restores them, multiplies the learning rate by `learning_rate_factor`,
    resets the epoch's running metrics (they include the bad batches; if no batch follows in
    the epoch, its training metrics are reported as NaN, not the reset 0), logs the event
    (`self.rollbacks`, `log_dir/rollbacks.json`, scalar `divergence/rollbacks`, text
    `divergence/rollback`) and goes on. The optimizer's iteration counter is not rolled back:
    steps in the logs stay increasing and a schedule keeps its clock. A float learning rate
    is assigned; a `LearningRateSchedule` is wrapped once, when training begins, in
    `optimizers.schedules.ScaledSchedule` (the train step is traced again then) and its
    multiplier lowered, the mechanism of `HyperparameterControl` and `ReduceLROnPlateau`; a
    callable learning rate cannot be lowered (warned), only the state is restored.

    Callback order: after `GradientStatistics` (its gradient norm for the same step is then
    known) and before `MetricsFile` (whose epoch row then shows the stopped epoch).
    Cost: a float comparison per batch; with rollback, a copy of all weights and optimizer
    slots every `snapshot_every_n_steps` steps.

    Args:
        log_dir: The run directory (the one given to `keras.callbacks.TensorBoard`), or None
            to keep the record only in `self.record`.
        max_loss_ratio: float > 1, or None to stop on NaN/Inf only. Defaults to `100.0`.
        reference: `"initial"` or `"best"`. Defaults to `"initial"`.
        initial_loss: float > 0 or None: the starting loss, measured before `fit` (e.g. on a
            probe batch). With `steps_per_execution > 1` the first `logs["loss"]` is already a
            mean over several steps, which may have blown up; this pins the reference. Defaults
            to None (the first loss seen).
        gradient_statistics: a `GradientStatistics` callback of the same fit, or None.
        rollback: bool. Defaults to `False`.
        snapshot_every_n_steps: int > 0. Defaults to `50`.
        learning_rate_factor: float in (0, 1), applied at each rollback. Defaults to `0.1`.
        max_rollbacks: int > 0; the next divergence stops the run. Defaults to `3`.
    """

    def __init__(
        self,
        log_dir=None,
        max_loss_ratio=100.0,
        reference="initial",
        initial_loss=None,
        gradient_statistics=None,
        rollback=False,
        snapshot_every_n_steps=50,
        learning_rate_factor=0.1,
        max_rollbacks=3,
    ):
        super().__init__()
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.max_loss_ratio = None
        if max_loss_ratio is not None:
            self.max_loss_ratio = check_positive("max_loss_ratio", max_loss_ratio)
            if not self.max_loss_ratio > 1.0:
                raise ValueError(
                    f"Argument `max_loss_ratio` must be > 1 or None. Received: max_loss_ratio={max_loss_ratio!r}"
                )
        self.reference = check_choice("reference", reference, REFERENCES)
        self.initial_loss = None if initial_loss is None else check_positive("initial_loss", initial_loss)
        if gradient_statistics is not None and not isinstance(gradient_statistics, GradientStatistics):
            raise ValueError(
                "Argument `gradient_statistics` must be a GradientStatistics callback or None. "
                f"Received: gradient_statistics={gradient_statistics!r}"
            )
        self.gradient_statistics = gradient_statistics
        self.rollback = check_bool("rollback", rollback)
        self.snapshot_every_n_steps = check_positive_integer("snapshot_every_n_steps", snapshot_every_n_steps)
        self.learning_rate_factor = check_positive("learning_rate_factor", learning_rate_factor)
        if not self.learning_rate_factor < 1.0:
            raise ValueError(
                "Argument `learning_rate_factor` must be in (0, 1). "
                f"Received: learning_rate_factor={learning_rate_factor!r}"
            )
        self.max_rollbacks = check_positive_integer("max_rollbacks", max_rollbacks)
        self._writer = SummaryWriter(log_dir)
        self._steps = StepCounter()
        self.record = None
        self.rollbacks = []

    def on_train_begin(self, logs=None):
        self._writer.open()
        self.record = None
        self.rollbacks = []
        self._reference_loss = self.initial_loss
        self._best_loss = math.inf
        self._snapshot = self._candidate = None
        self._steps.start(self)
        self._rolled_back_this_epoch, self._steps_since_rollback = False, 0
        if self.rollback:
            # Built now, not at the first step, so that the first snapshot holds its slots.
            if not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            self._make_learning_rate_scalable()

    def _make_learning_rate_scalable(self):
        # The mechanism HyperparameterControl and ReduceLROnPlateau use too: a float rate is a
        # variable; a schedule is wrapped once in ScaledSchedule, whose multiplier is lowered.
        if make_learning_rate_adjustable(self.model) is None:
            warnings.warn(
                "DivergenceGuard(rollback=True) cannot lower a callable learning rate; "
                "a rollback will restore the weights and optimizer state only.",
                RuntimeWarning,
                stacklevel=2,
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._steps.begin_epoch()
        self._epoch = epoch
        self._rolled_back_this_epoch = False

    def on_train_batch_begin(self, batch, logs=None):
        # The loss of step t is computed at the weights step t begins from, so those are the
        # ones a healthy loss vouches for: copy them now, keep them if step t's loss is healthy.
        step = self._steps.first(batch)
        if (
            self.rollback
            and self.record is None
            and (self._snapshot is None or step - 1 - self._snapshot[0] >= self.snapshot_every_n_steps)
        ):
            self._candidate = (step - 1, [(v, v.numpy().copy()) for v in self._rolled_back_variables()])

    def on_train_batch_end(self, batch, logs=None):
        step = self._steps.last(self, batch)
        if self.record is not None or not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        reason = self._divergence_reason(loss)
        if reason is None:
            self._steps_since_rollback += 1
            self._best_loss = min(self._best_loss, loss)
            if self._candidate is not None:  # this step's loss vouches for the weights it began from
                self._snapshot, self._candidate = self._candidate, None
            return
        self._candidate = None
        # The batch of the epoch that step is: Keras names a shorter last group by where a
        # full one would end.
        event = self._describe(reason, step, step - self._steps.before_epoch - 1, loss)
        if self.rollback and self._snapshot is not None and len(self.rollbacks) < self.max_rollbacks:
            self._roll_back(event)
        else:
            self._stop(event)

    def _divergence_reason(self, loss):
        if math.isnan(loss):
            return "loss_nan"
        if math.isinf(loss):
            return "loss_inf"
        if self._reference_loss is None:
            self._reference_loss = loss
            return None
        reference = self._reference_loss if self.reference == "initial" else self._best_loss
        ratio = self.max_loss_ratio
        if ratio is not None and reference > 0 and loss > ratio * reference:
            return "loss_growth"
        return None

    def _describe(self, reason, step, batch, loss):
        reference = self._reference_loss if self.reference == "initial" else self._best_loss
        if reason == "loss_growth":
            what = f"loss {loss:.4g} > max_loss_ratio={self.max_loss_ratio:g} x {self.reference} loss {reference:.4g}"
        else:
            what = f"loss is {loss}"
        gradient_norm = gradient_norm_step = None
        latest = self.gradient_statistics.latest if self.gradient_statistics else None
        if latest is not None:
            gradient_norm = latest["global_gradient_norm"]
            gradient_norm_step = latest["step"]
        learning_rate = applied_learning_rate(self.model.optimizer, step)
        return {
            "reason": reason,
            "message": f"Diverged at step {step} (epoch {self._epoch}, batch {batch}): {what}.",
            "step": step,
            "epoch": self._epoch,
            "batch": batch,
            "loss": loss,
            "reference_loss": reference if reference is not None and math.isfinite(reference) else None,
            "max_loss_ratio": self.max_loss_ratio,
            "learning_rate": learning_rate,
            "gradient_norm": gradient_norm,
            "gradient_norm_step": gradient_norm_step,
        }

    def _stop(self, event):
        self.model.stop_training = True
        self.record = dict(event, rollbacks=list(self.rollbacks))
        warnings.warn(event["message"] + " Training stopped.", RuntimeWarning, stacklevel=2)
        self._writer.write(event["step"], {"divergence/diverged": 1.0})
        self._writer.text(event["step"], "divergence/reason", event["message"])
        self._writer.flush()
        self._write_file(RECORD_FILE, self.record)

    def _write_file(self, name, data):
        if self.log_dir is None:
            return
        try:
            os.makedirs(self.log_dir, exist_ok=True)
            write_json_atomic(os.path.join(self.log_dir, name), data)
        except OSError as error:  # a full disk must not turn a recorded divergence into a crash
            warnings.warn(f"DivergenceGuard could not write {name}: {error}", RuntimeWarning, stacklevel=2)

    # Rollback.

    def _rolled_back_variables(self):
        """Model weights and optimizer slots; not the iteration counter or the learning rate."""
        model = self.model
        return list(model.weights) + state_variables(model.optimizer)

    def _roll_back(self, event):
        restored_step, values = self._snapshot
        # On JAX, reading `self.model` syncs the training state into the variables first, so
        # that the next step starts from what is assigned here (a later sync would undo it).
        model = self.model
        for variable, value in values:
            variable.assign(value)
        optimizer = model.optimizer
        before = event["learning_rate"]
        if make_learning_rate_adjustable(model) is not None:
            reduce_learning_rate(model, self.learning_rate_factor)
        model.reset_metrics()  # the epoch's running loss includes the diverged batches
        self._rolled_back_this_epoch, self._steps_since_rollback = True, 0
        event = dict(
            event,
            restored_step=restored_step,
            learning_rate_before=before,
            learning_rate_after=applied_learning_rate(optimizer, event["step"] + 1),
        )
        self.rollbacks.append(event)
        message = (
            f"{event['message']} Rolled back to step {restored_step}; learning rate "
            f"{before:.4g} -> {event['learning_rate_after']:.4g} "
            f"(rollback {len(self.rollbacks)} of at most {self.max_rollbacks})."
        )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        self._writer.write(event["step"], {"divergence/rollbacks": float(len(self.rollbacks))})
        self._writer.text(event["step"], "divergence/rollback", message)
        self._writer.flush()
        self._write_file(ROLLBACKS_FILE, self.rollbacks)

    def on_epoch_end(self, epoch, logs=None):
        if self._rolled_back_this_epoch and self._steps_since_rollback == 0 and logs is not None:
            # No batch ran since the metrics were reset: they read 0, which was never measured.
            for name in self.model.get_metrics_result():
                logs[name] = math.nan
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._snapshot = self._candidate = None
        self._writer.close()
