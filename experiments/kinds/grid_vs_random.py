"""Random search against a grid of the same budget (note 002: "don't use a grid, because hard
to say in advance which hyperparameters will be important"; Bergstra & Bengio 2012).

Two hyperparameters of plain SGD on digits, one that matters (the learning rate, log-uniform in
[`lr_low`, `lr_high`]) and one that matters less (the hidden width, log scale in [16, 256], a
power of two). Budget `side`**2 trials:

    grid:    u in {1/(2 side), 3/(2 side), ...} on each axis (cell midpoints): `side` distinct rates
    random:  `side`**2 uniform draws of (u_rate, u_width) from the search's seed: as many distinct rates

Every trial is one training run on seed 0 (the same initialization and data order for a given
width), `epochs` epochs; its score is the final validation error, 1 - accuracy (a run that
diverged or failed scores chance, 0.9). A search's result is its best trial's score.

Measurement (per search seed s = 0..seeds-1, the grid being the same for every s):
`best_error_grid_minus_random` = best error of the grid - best error of random search s
(> 0: random search found the better setting). Selection and score are on the same validation
split for both arms, so both are optimistic by the same rule.
"""

import math

import numpy as np

from experiments.kinds import training_runs
from experiments.kinds.result import KindResult

DEFAULT_PARAMS = {
    "side": 3,  # the grid is side x side; random search gets side**2 trials
    "lr_low": 1e-3,
    "lr_high": 1.0,
    "epochs": 4,
    "limit": 0,  # examples of digits (0: all)
}
WIDTHS = (16, 32, 64, 128, 256)
CHANCE_ERROR = 0.9


def check_params(params):
    if params["side"] < 2:
        raise ValueError(f"params.side must be >= 2; got {params['side']!r}")
    if not 0 < params["lr_low"] < params["lr_high"]:
        raise ValueError(f"params.lr_low and lr_high need 0 < lr_low < lr_high; got {params['lr_low']!r}, {params['lr_high']!r}")
    if params["epochs"] < 1:
        raise ValueError(f"params.epochs must be >= 1; got {params['epochs']!r}")
    if params["limit"] and params["limit"] < 20:
        raise ValueError(f"params.limit must be 0 (all) or >= 20; got {params['limit']!r}")


def grid_points(side):
    values = (np.arange(side) + 0.5) / side
    return np.array([(a, b) for a in values for b in values])


def random_points(side, seed):
    return np.random.default_rng(seed).uniform(size=(side * side, 2))


def settings_of(point, params):
    u_rate, u_width = point
    rate = math.exp(math.log(params["lr_low"]) + u_rate * (math.log(params["lr_high"]) - math.log(params["lr_low"])))
    width = WIDTHS[min(int(u_width * len(WIDTHS)), len(WIDTHS) - 1)]
    return {"learning_rate": float(f"{rate:.3g}"), "width": width}


def validation_error(record):
    if record.get("status") in ("diverged", "failed"):
        return CHANCE_ERROR
    accuracy = (record.get("metrics") or {}).get("val_accuracy")
    return 1.0 - accuracy if accuracy is not None and math.isfinite(accuracy) else CHANCE_ERROR


def run(params, seeds, exp_dir, trainer):
    check_params(params)
    fixed = {"optimizer": "sgd", "epochs": params["epochs"], "seed": 0}
    if params["limit"]:
        fixed["limit"] = params["limit"]
    searches = {"grid": grid_points(params["side"])}
    searches.update({f"random{s}": random_points(params["side"], s) for s in range(seeds)})
    runs, owners = [], []
    for search, points in searches.items():
        for i, point in enumerate(points):
            settings = {**fixed, **settings_of(point, params)}
            runs.append(trainer.planned(f"{search}_trial{i:02d}", settings, group=f"{search}_trial{i:02d}"))
            owners.append(search)
    records = trainer.train(runs)
    best, distinct, rows = {}, {}, []
    for search in searches:
        mine = [r for r, owner in zip(records, owners) if owner == search]
        errors = [validation_error(r) for r in mine]
        top = mine[int(np.argmin(errors))]["config"]
        best[search] = min(errors)
        distinct[search] = len({r["config"]["learning_rate"] for r in mine})
        rows.append({
            "search": search, "trials": len(mine), "distinct learning rates": distinct[search],
            "best validation error": f"{best[search]:.4f}",
            "best trial": f"lr {top['learning_rate']:g}, width {top['width']}",
        })  # fmt: skip
    measurements = {"best_error_grid_minus_random": [best["grid"] - best[f"random{s}"] for s in range(seeds)]}
    table, figures = training_runs.write_outputs(exp_dir, records, ["learning_rate", "width"], "Grid and random-search trials")
    from experiments.outputs.tables import table_of_rows

    figures = [_plot(searches, params, records, owners, exp_dir)]
    return KindResult(table_of_rows(rows), [], figures, measurements)


def _plot(searches, params, records, owners, exp_dir):
    from experiments.outputs.figures import figure, save_figure

    fig = figure(7, 5)
    ax = fig.subplots()
    for search, marker in zip(searches, ["s"] + ["o"] * (len(searches) - 1)):
        mine = [r for r, owner in zip(records, owners) if owner == search]
        lr = [r["config"]["learning_rate"] for r in mine]
        err = [validation_error(r) for r in mine]
        ax.scatter(lr, err, marker=marker, s=60 if search == "grid" else 20, label=search, alpha=0.9 if search == "grid" else 0.5)
    ax.set(xscale="log", xlabel="learning rate", ylabel="final validation error", title="Grid (squares) vs random trials")
    ax.legend(fontsize=7)
    return save_figure(fig, exp_dir, "grid_vs_random.png")
