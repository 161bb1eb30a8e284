"""Reshuffling every epoch against one fixed order and against data sorted by class (note 003).

Three arms differ only in the `shuffle` setting (experiments/data_order.py): "each_epoch"
(the default), "once" and "sorted". Seed s gives every arm the same initialization; "once" and
"each_epoch" also share their first epoch's order. Everything else is the project's default
run at `epochs`, so the comparison is at a fixed epoch budget.

Decision rule, declared before the runs (experiments/paired_stats.py): per seed, the final
validation loss of the other arm minus that of "each_epoch" (> 0: reshuffling ends better);
supported when the 95% t interval lies above 0, contradicted below, no effect inside ±`margin`.
"""

from experiments import kind_runs, paired_stats

DEFAULT_PARAMS = {
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "momentum": 0.9,
    "batch_size": 32,
    "epochs": 10,
    "limit": 0,  # examples of digits (0: all)
    "width": 128,
    "margin": 0.02,  # validation loss: smaller differences count as no practical effect
}
ORDERS = ("each_epoch", "once", "sorted")


def check_params(params):
    from experiments.settings import validate

    for name in ("optimizer", "learning_rate", "momentum", "batch_size", "epochs", "width"):
        validate(name, params[name])
    if params["limit"] and params["limit"] < 20:
        raise ValueError(f"params.limit must be 0 (all) or >= 20; got {params['limit']!r}")
    if not params["margin"] >= 0:
        raise ValueError(f"params.margin must be >= 0; got {params['margin']!r}")


def run(params, seeds, exp_dir):
    check_params(params)
    fixed = {k: params[k] for k in ("optimizer", "learning_rate", "momentum", "batch_size", "epochs", "width")}
    if params["limit"]:
        fixed["limit"] = params["limit"]
    by_arm = kind_runs.train_arms(exp_dir, {order: {**fixed, "shuffle": order} for order in ORDERS}, seeds)
    findings = []
    for other, claim in (
        ("once", "Reshuffling every epoch ends better than one fixed order"),
        ("sorted", "Reshuffling every epoch ends far better than data sorted by class"),
    ):
        finding, _ = paired_stats.compare(
            claim, by_arm[other], by_arm["each_epoch"], "val_loss", higher_is_better=False,
            margin=params["margin"], names=(other, "each_epoch"),
        )  # fmt: skip
        findings.append(finding)
        accuracy, _ = paired_stats.compare(
            f"{claim} (validation accuracy)", by_arm[other], by_arm["each_epoch"], "val_accuracy",
            higher_is_better=True, margin=0.005, names=(other, "each_epoch"),
        )  # fmt: skip
        findings.append(accuracy)
    records = [r for arm in by_arm.values() for r in arm]
    table, figures = kind_runs.write_outputs(exp_dir, records, ["shuffle"], "Data order: reshuffled, fixed, sorted")
    return table, findings, figures
