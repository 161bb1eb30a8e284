"""Reshuffling every epoch against one fixed order and against data sorted by class (note 003).

Three arms differ only in the `shuffle` setting (experiments/data/shuffling.py): "each_epoch"
(the default), "once" and "sorted". Seed s gives every arm the same initialization; "once" and
"each_epoch" also share the first epoch's order (the difference is the reshuffling itself).
Everything else is fixed (`[params]`), so arms are compared at one epoch budget.

Measurements (per seed, for the experiment file's claims; experiments/evidence/decision.py decides):
`val_loss_<arm>_minus_each_epoch` and `val_accuracy_<arm>_minus_each_epoch` for arm "once" and
"sorted": > 0 in loss (< 0 in accuracy) means reshuffling ends better.
"""

from experiments.kinds import training_runs
from experiments.kinds.result import KindResult

DEFAULT_PARAMS = {
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "momentum": 0.9,
    "batch_size": 32,
    "epochs": 10,
    "limit": 0,  # examples of digits (0: all)
    "width": 128,
}
ORDERS = ("each_epoch", "once", "sorted")
TRAINING_PARAMS = ("optimizer", "learning_rate", "momentum", "batch_size", "epochs", "width")


def check_params(params):
    from experiments.config.settings import SettingError, validate

    for name in TRAINING_PARAMS:
        try:
            validate(name, params[name])
        except SettingError as error:
            raise ValueError(f"params.{error}") from None
    if params["limit"] and params["limit"] < 20:
        raise ValueError(f"params.limit must be 0 (all) or >= 20; got {params['limit']!r}")


def training_settings(params):
    settings = {k: params[k] for k in TRAINING_PARAMS}
    if params["limit"]:
        settings["limit"] = params["limit"]
    return settings


def run(params, seeds, exp_dir, trainer):
    check_params(params)
    fixed = training_settings(params)
    by_arm = trainer.train_arms({order: {**fixed, "shuffle": order} for order in ORDERS}, seeds)
    measurements = {
        f"{metric}_{other}_minus_each_epoch": training_runs.paired_differences(by_arm[other], by_arm["each_epoch"], metric)
        for other in ("once", "sorted")
        for metric in ("val_loss", "val_accuracy")
    }
    records = [r for arm in by_arm.values() for r in arm]
    table, figures = training_runs.write_outputs(exp_dir, records, ["shuffle"], "Data order: reshuffled, fixed, sorted")
    return KindResult(table, [], figures, measurements)
