"""Which hyperparameters matter? A random search and a functional-ANOVA importance (note 002).

The notes (after Ng's lecture): the learning rate matters most; then momentum, the number of
hidden units and the mini-batch size; then the number of layers and the learning-rate decay;
Adam's beta_1, beta_2 and epsilon almost never. Momentum and Adam's betas belong to different
optimizers, so there are two random searches, each over its optimizer's hyperparameters and
the shared ones, every trial one training run of the project's MLP (seed 0, `epochs` epochs):

    sgd:  learning_rate, momentum, width (hidden units), batch_size, depth (layers), decay_rate
    adam: learning_rate, beta_1, beta_2, epsilon, width, batch_size, depth, decay_rate

Each dimension is sampled uniformly in a unit coordinate u in [0, 1] (log scale for rates,
epsilon and 1 - beta_2; powers of two for width and batch size; decay is inverse-time per epoch,
`lr / (1 + decay_rate * epoch)`). The objective is the final validation error, 1 - accuracy; a
run that diverged or failed scores chance, 0.9.

Importance: the functional ANOVA of a random-forest surrogate of the objective over u (Hutter,
Hoos & Leyton-Brown 2014, "An Efficient Approach for Assessing Hyperparameter Importance",
ICML), main effects only: with f the forest's prediction and u uniform on the cube,

    f_i(v)       = E_u[ f(u) | u_i = v ]            # the marginal of hyperparameter i
    importance_i = Var_v f_i(v) / Var_u f(u)        # the share of the variance it explains alone

Hutter et al. compute these exactly over the trees' partitions; here they are Monte-Carlo
averages (`grid` values of v, `background` random u), which a reader can check against a
function whose variance decomposition is known (tests/test_importance.py). The fraction of the
variance no single hyperparameter explains is interactions (and surrogate error). Uncertainty:
the whole computation is repeated on `bootstrap` resamples of the trials (percentile interval).

Verdict (`hyperparameter-importance`, decided before the runs by experiments/evidence/decision.py's
rule on the bootstrap interval): effect = importance of the learning rate minus the largest
importance of any other hyperparameter, in the SGD search; supported when its 95% interval lies
above 0. The full ranking, and where Adam's betas and epsilon land, are reported as measured.
"""

import math
import os

import numpy as np

from experiments.evidence.findings import Finding
from experiments.kinds import training_runs
from experiments.kinds.result import KindResult
from experiments.outputs import files

DEFAULT_PARAMS = {
    "trials": 20,  # per search
    "epochs": 5,
    "limit": 0,  # examples of digits (0: all)
    "trees": 200,
    "grid": 16,
    "background": 256,
    "bootstrap": 50,
    "search_seed": 0,
}
# The fewest trials and bootstrap resamples from which the rate-first verdict is decided.
MIN_DECIDING_TRIALS = DEFAULT_PARAMS["trials"]
MIN_DECIDING_RESAMPLES = DEFAULT_PARAMS["bootstrap"]
# name: (scale, low, high); the notes' tier of each (1: most important ... 4: almost never).
SPACES = {
    "sgd": {
        "learning_rate": ("log", 1e-3, 1.0),
        "momentum": ("linear", 0.0, 0.95),
        "width": ("power2", 16, 256),
        "batch_size": ("power2", 16, 256),
        "depth": ("integer", 1, 4),
        "decay_rate": ("linear", 0.0, 1.0),
    },
    "adam": {
        "learning_rate": ("log", 1e-4, 1e-1),
        "beta_1": ("linear", 0.5, 0.99),
        "beta_2": ("one_minus_log", 0.9, 0.9999),
        "epsilon": ("log", 1e-8, 1e-2),
        "width": ("power2", 16, 256),
        "batch_size": ("power2", 16, 256),
        "depth": ("integer", 1, 4),
        "decay_rate": ("linear", 0.0, 1.0),
    },
}
NOTES_TIER = {
    "learning_rate": 1, "momentum": 2, "width": 2, "batch_size": 2, "depth": 3, "decay_rate": 3,
    "beta_1": 4, "beta_2": 4, "epsilon": 4,
}  # fmt: skip
CHANCE_ERROR = 0.9


def check_params(params):
    if params["trials"] < 4:
        raise ValueError(f"params.trials must be >= 4; got {params['trials']!r}")
    for name in ("epochs", "trees", "grid", "background", "bootstrap"):
        if params[name] < 1:
            raise ValueError(f"params.{name} must be >= 1; got {params[name]!r}")
    if params["grid"] < 2:
        raise ValueError(f"params.grid must be >= 2; got {params['grid']!r}")
    if params["limit"] and params["limit"] < 20:
        raise ValueError(f"params.limit must be 0 (all) or >= 20; got {params['limit']!r}")
    if params["search_seed"] < 0:
        raise ValueError(f"params.search_seed must be >= 0; got {params['search_seed']!r}")


# --- the importance measure ------------------------------------------------------------------


def main_effects(predict, dimensions, grid=16, background=256, seed=0):
    """Main-effect variance fractions {i: Var_v f_i(v) / Var f} of `predict` over [0, 1]^dimensions.

    `predict(u)` takes an (n, dimensions) array. f_i(v) is averaged over `background` uniform
    points with coordinate i set to each of `grid` equally spaced cell midpoints v.
    """
    rng = np.random.default_rng(seed)
    points = rng.uniform(size=(background, dimensions))
    total = float(np.var(predict(points)))
    values = (np.arange(grid) + 0.5) / grid
    fractions = []
    for i in range(dimensions):
        stacked = np.repeat(points[None], grid, axis=0)
        stacked[:, :, i] = values[:, None]
        marginal = predict(stacked.reshape(-1, dimensions)).reshape(grid, background).mean(axis=1)
        fractions.append(float(np.var(marginal)) / total if total > 0 else 0.0)
    return np.array(fractions)


def forest_importance(u, y, trees=200, grid=16, background=256, seed=0):
    """The functional-ANOVA main effects of a random forest fitted to (u, y)."""
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=trees, min_samples_leaf=2, random_state=seed).fit(u, y)
    return main_effects(forest.predict, u.shape[1], grid, background, seed)


def bootstrap_importance(u, y, resamples, **kwargs):
    """(resamples, dimensions) importances, each on trials resampled with replacement."""
    rng = np.random.default_rng(kwargs.get("seed", 0))
    rows = []
    for r in range(resamples):
        idx = rng.integers(len(y), size=len(y))
        rows.append(forest_importance(u[idx], y[idx], **{**kwargs, "seed": r}))
    return np.array(rows)


# --- the searches ----------------------------------------------------------------------------


def to_setting(scale, low, high, u):
    if scale == "log":
        return float(f"{math.exp(math.log(low) + u * (math.log(high) - math.log(low))):.3g}")
    if scale == "linear":
        return float(f"{low + u * (high - low):.3g}")
    if scale == "one_minus_log":  # 1 - beta log-uniform between 1 - high and 1 - low
        return float(f"{1 - math.exp(math.log(1 - high) + u * (math.log(1 - low) - math.log(1 - high))):.6g}")
    if scale == "power2":
        exponents = range(int(round(math.log2(low))), int(round(math.log2(high))) + 1)
        return 2 ** list(exponents)[min(int(u * len(exponents)), len(exponents) - 1)]
    if scale == "integer":
        return low + min(int(u * (high - low + 1)), high - low)
    raise ValueError(f"unknown scale {scale!r}")


def sample_trials(space, trials, seed):
    """(u array (trials, d), list of settings dicts) for one search."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=(trials, len(space)))
    settings = [{name: to_setting(*spec, ui) for (name, spec), ui in zip(space.items(), row)} for row in u]
    return u, settings


def validation_error(record):
    if record.get("status") in ("diverged", "failed"):
        return CHANCE_ERROR
    accuracy = (record.get("metrics") or {}).get("val_accuracy")
    return 1.0 - accuracy if accuracy is not None and math.isfinite(accuracy) else CHANCE_ERROR


def run_search(name, params, trainer):
    space = SPACES[name]
    u, trials = sample_trials(space, params["trials"], params["search_seed"] + (0 if name == "sgd" else 1))
    fixed = {"optimizer": name, "epochs": params["epochs"], "schedule": "inverse_time", "decay_epochs": 1.0, "seed": 0}
    if params["limit"]:
        fixed["limit"] = params["limit"]
    runs = [
        trainer.planned(f"{name}_trial{i:02d}", {**fixed, **trial}, group=f"{name}_trial{i:02d}")
        for i, trial in enumerate(trials)
    ]
    records = trainer.train(runs)
    return u, np.array([validation_error(r) for r in records]), records


def run(params, seeds, exp_dir, trainer):
    """`seeds` is unused: every trial trains on seed 0 (the search's own randomness is
    `search_seed`); uncertainty comes from resampling the trials."""
    check_params(params)
    results, all_records, rows = {}, [], []
    options = {"trees": params["trees"], "grid": params["grid"], "background": params["background"]}
    for name, space in SPACES.items():
        u, errors, records = run_search(name, params, trainer)
        all_records += records
        point = forest_importance(u, errors, **options)
        boot = bootstrap_importance(u, errors, params["bootstrap"], **options)
        results[name] = (list(space), point, boot, errors)
        for i, dim in enumerate(space):
            low, high = np.percentile(boot[:, i], [2.5, 97.5])
            rows.append({"search": name, "hyperparameter": dim, "notes_tier": NOTES_TIER[dim],
                         "importance": f"{point[i]:.3f}", "95% interval": f"{low:.3f} to {high:.3f}"})  # fmt: skip
    files.write_json_atomic(
        os.path.join(exp_dir, "importance.json"),
        {n: {"hyperparameters": d, "importance": p.tolist(), "bootstrap": b.tolist(), "errors": e.tolist()}
         for n, (d, p, b, e) in results.items()},
    )  # fmt: skip
    training_runs.write_outputs(exp_dir, all_records, [], "Random-search trials")  # runs.csv, curves, HParams
    from experiments.outputs.tables import table_of_rows

    findings = [rate_first_finding(results["sgd"]), *(_ranking_finding(n, results[n]) for n in SPACES)]
    return KindResult(table_of_rows(rows), findings, [_plot(results, exp_dir), "curves.png"], {})


def rate_first_finding(result):
    from experiments.evidence import decision

    dims, point, boot, errors = result
    i = dims.index("learning_rate")
    others = np.delete(boot, i, axis=1).max(axis=1)
    gaps = boot[:, i] - others
    low, high = (float(x) for x in np.percentile(gaps, [2.5, 97.5]))
    effect = float(point[i] - np.delete(point, i).max())
    verdict = decision.verdict_of_interval(low, high, "greater", 0.0)
    # A percentile interval from a handful of resamples or trials is not a 95% interval: such a
    # (quick) search measures, it does not decide, so it can never contradict the default size.
    too_few = len(errors) < MIN_DECIDING_TRIALS or len(boot) < MIN_DECIDING_RESAMPLES
    if too_few and verdict in ("supported", "contradicted", "no effect"):
        verdict = "inconclusive"
    return Finding(
        "The learning rate matters most (SGD search: its functional-ANOVA importance exceeds every other hyperparameter's)",
        verdict,
        f"Importance of the learning rate minus the largest other, over {len(errors)} random trials: {effect:+.3f} "
        f"[{low:+.3f}, {high:+.3f}] (bootstrap over trials, {len(boot)} resamples). Importance = the share of the "
        "variance of a random-forest surrogate of the validation error that the hyperparameter explains alone "
        "(fANOVA main effect, Hutter et al. 2014)."
        + (f" Not decided: fewer than {MIN_DECIDING_TRIALS} trials or {MIN_DECIDING_RESAMPLES} resamples." if too_few else ""),
        id="hyperparameter-importance", source=["002"], effect=effect, ci=[low, high], n=len(errors),
        metric="fANOVA importance of the learning rate minus the largest other", method="bootstrap over trials",
        margin=0.0, experiment="hyperparameter_importance",
    )  # fmt: skip


def _ranking_finding(name, result):
    from scipy import stats

    dims, point, boot, errors = result
    order = sorted(range(len(dims)), key=lambda i: -point[i])
    tau = stats.kendalltau([NOTES_TIER[dims[i]] for i in range(len(dims))], -point).statistic
    listing = ", ".join(f"{dims[i]} {point[i]:.2f}" for i in order)
    learned = int(np.sum(errors < CHANCE_ERROR - 0.1))
    return Finding(
        f"Hyperparameter importance ranking, {name} search",
        "measured",
        f"{listing} (main effects; {1 - point.sum():.2f} of the variance left to interactions and surrogate error). "
        f"Kendall's tau against the notes' tiers: {tau:+.2f} (1 = the notes' order). {learned}/{len(errors)} trials "
        f"learned (validation error below 0.8).",
        experiment="hyperparameter_importance",
    )


def _plot(results, exp_dir):
    from experiments.outputs.figures import figure, save_figure

    fig = figure(12, 4.5)
    axes = fig.subplots(1, len(results))
    for ax, (name, (dims, point, boot, _)) in zip(axes, results.items()):
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
        ax.barh(dims, point, xerr=[np.maximum(point - low, 0), np.maximum(high - point, 0)], color="C0", alpha=0.8)
        ax.invert_yaxis()
        ax.set(xlabel="fANOVA main-effect importance (share of variance)", title=f"{name} search")
    return save_figure(fig, exp_dir, "importance.png")
