"""Plans the runs of an experiment, runs those not done yet (optionally in parallel), keeps results.

Planning has up to two stages. Without [tune] or [search], stage one is every configuration
times every seed. With [tune], stage one runs each configuration at each tuned value on seed 0,
and stage two runs the best value of each configuration on every seed (each arm gets its own
best learning rate). With [search], stage one runs the random trials on seed 0 and stage two
re-runs the best `top` trials on every seed. A run's name is derived from its settings, so the
seed-0 run of a stage-two configuration is the stage-one run itself and is not repeated.
"""

import dataclasses
import itertools
import math
import os

import numpy as np

from experiments.config.metrics import orientation
from experiments.config.settings import resolve, validate
from experiments.data import datasets

ABBREVIATIONS = {
    "learning_rate": "lr", "batch_size": "bs", "momentum": "mom", "optimizer": "opt",
    "batch_norm": "bn", "initializer": "init", "activation": "act", "input_scaling": "inputs",
    "schedule": "sched", "warmup_epochs": "warmup", "bias_correction": "bc", "width": "w", "depth": "d",
}  # fmt: skip


@dataclasses.dataclass
class PlannedRun:
    experiment: str
    group: str  # the configuration; its seeds share it
    run_id: str
    stage: str  # "tune", "search" or "final"
    config: dict  # resolved settings
    configuration: str = ""  # the group less tuned settings: tuning picks one value per configuration
    stackable: bool = True  # may train in a stacked group with its other seeds (the spec's stack_seeds)

    def directory(self, logdir):
        return os.path.join(experiment_dir(logdir, self.experiment, self.config["dataset"]), self.run_id)


def experiment_dir(logdir, experiment, dataset):
    """<logdir>/<experiment> on digits, <logdir>/<data set>/<experiment> on any other data set:
    runs on different data never overwrite each other, and each resumes on its own."""
    return os.path.join(datasets.experiment_parent(logdir, dataset), experiment)


def _format(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def group_name(experiment, prefix, config, exclude=()):
    parts = [prefix] if prefix else []
    arm_settings = {name for arm in experiment.arms for name in arm}
    for name in experiment.varied_settings:
        if name not in exclude and name not in arm_settings:
            parts.append(f"{ABBREVIATIONS.get(name, name)}={_format(config[name])}")
    return "_".join(parts) or "base"


def _planned(experiment, prefix, settings, seed, stage, overrides):
    # Overrides replace fixed settings; the command line refuses those the experiment varies.
    config = resolve({**settings, **overrides, "seed": seed})
    group = group_name(experiment, prefix, config)
    configuration = group_name(experiment, prefix, config, exclude=experiment.tune)
    return PlannedRun(experiment.name, group, f"{group}_seed{seed}", stage, config, configuration, experiment.stack_seeds)


def first_stage(experiment, overrides):
    configs = configurations(experiment)
    if experiment.search:
        runs = []
        for i, trial in enumerate(sample_search(experiment.search)):
            for label, settings in configs:
                prefix = "_".join(p for p in (label, f"trial{i:02d}") if p)
                runs.append(_planned(experiment, prefix, {**settings, **trial}, 0, "search", overrides))
        return runs
    if experiment.tune:
        names = list(experiment.tune)
        runs = []
        for label, settings in configs:
            for values in _product(experiment.tune, names):
                for seed in range(experiment.tune_seeds):
                    runs.append(_planned(experiment, label, {**settings, **values}, seed, "tune", overrides))
        return runs
    return []


def final_stage(experiment, overrides, seeds, first_records):
    """The runs over all seeds, given the records of the first stage (None if it had none)."""
    seeds = range(seeds)
    if experiment.search:
        best = _best_groups(first_records, experiment.metric, experiment.search["top"])
        return [
            _reseed(record, seed, experiment) for record in best for seed in seeds
        ]
    if experiment.tune:
        # Per configuration, the tuned values' group with the best mean score over its seeds.
        by_configuration = {}
        for record in first_records:
            by_configuration.setdefault(record["configuration"], {}).setdefault(record["group"], []).append(record)
        best = [
            min(groups.values(), key=lambda records: mean_score(records, experiment.metric))[0]
            for groups in by_configuration.values()
        ]
        return [_reseed(record, seed, experiment) for record in best for seed in seeds]
    return [
        _planned(experiment, label, settings, seed, "final", overrides)
        for label, settings in configurations(experiment)
        for seed in seeds
    ]


def _reseed(record, seed, experiment):
    config = {**record["config"], "seed": seed}
    group = record["group"]
    return PlannedRun(
        experiment.name, group, f"{group}_seed{seed}", "final", resolve(config), record["configuration"],
        experiment.stack_seeds,
    )


def _product(table, names):
    return [dict(zip(names, values)) for values in itertools.product(*(table[n] for n in names))]


def score(record, metric):
    """Lower is better; diverged and failed runs rank last, NaN never wins."""
    value = (record.get("metrics") or {}).get(metric)
    if record.get("status") != "ok" or value is None or not math.isfinite(value):
        return math.inf
    return -orientation(metric) * value


def mean_score(records, metric):
    """A group's mean `score`: a seed that diverged or failed makes it rank last."""
    return sum(score(r, metric) for r in records) / len(records)


def _best_groups(records, metric, top):
    ranked = sorted(records, key=lambda r: score(r, metric))
    return ranked[:top]


def sample_search(search, seed=0):
    """The random-search trials: one dict of settings per trial, from a fixed RNG."""
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(search["trials"]):
        trial = {}
        for name, dist in search.items():
            if name in ("trials", "top"):
                continue
            kind, args = next(iter(dist.items()))
            if kind == "log_uniform":
                value = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
            elif kind == "uniform":
                value = float(rng.uniform(args[0], args[1]))
            elif kind == "int_uniform":
                value = int(rng.integers(args[0], args[1] + 1))
            else:
                value = args[int(rng.integers(len(args)))]
            trial[name] = validate(name, _round_sig(value))
        trials.append(trial)
    return trials


def _round_sig(value, digits=3):
    # Short, stable run names and configs: 3 significant digits are plenty for a random search.
    if isinstance(value, float) and value != 0:
        return float(f"{value:.{digits}g}")
    return value


def configurations(experiment):
    """The (label, settings) of each configuration before tuning: arms x vary grid."""
    arms = experiment.arms or [{"label": ""}]
    names = list(experiment.vary)
    grid = list(itertools.product(*(experiment.vary[n] for n in names))) or [()]
    result = []
    for arm in arms:
        arm_settings = {k: v for k, v in arm.items() if k != "label"}
        for values in grid:
            settings = {**experiment.fixed, **arm_settings, **dict(zip(names, values))}
            result.append((arm["label"], settings))
    return result


# -- Refining the tuning until each arm's best is interior and fine enough ---------------------------

QUARTER_DECADE = 0.25  # the coarsest spacing, in decades, a tuned rate's best may keep
MAX_REFINEMENTS = 8  # rounds of refinement; each round adds at most two values per configuration
RATE_LIMITS = (1e-6, 100.0)  # the search never leaves these rates


def refine_tuning(experiment, overrides, records):
    """More tuning runs where a configuration's best tuned value is not yet settled, the same rule
    for every configuration (an equal budget per arm): a best at the edge of the values tried
    gets the next value past that edge, one step of the grid's own spacing further (the tuning
    playbook's boundary check); an interior best gets the geometric midpoints towards each
    neighbour farther than a quarter decade. Only positive numeric settings are refined (rates);
    a tuned choice between names is not. Returns [] when every best is interior and fine enough."""
    by_configuration = {}
    for record in records:
        by_configuration.setdefault(record["configuration"], []).append(record)
    runs = []
    for rows in by_configuration.values():
        for name in experiment.tune:
            for candidate in _next_values(rows, name, experiment.metric):
                template = next(r for r in rows if r["config"][name] == _best_value(rows, name, experiment.metric))
                runs += _tune_runs(experiment, template, name, candidate)
    return runs


def _best_value(rows, name, metric):
    by_value = {}
    for record in rows:
        by_value.setdefault(record["config"][name], []).append(record)
    return min(sorted(by_value), key=lambda v: mean_score(by_value[v], metric))


def _next_values(rows, name, metric):
    values = sorted({r["config"][name] for r in rows})
    if len(values) < 2 or not all(isinstance(v, float) and v > 0 for v in values):
        return []
    best = _best_value(rows, name, metric)
    index = values.index(best)
    if index in (0, len(values) - 1):
        neighbour = values[1] if index == 0 else values[-2]
        candidate = best * best / neighbour
        return [_round_sig(candidate)] if RATE_LIMITS[0] <= candidate <= RATE_LIMITS[1] else []
    result = []
    for neighbour in (values[index - 1], values[index + 1]):
        if abs(math.log10(neighbour / best)) > QUARTER_DECADE + 1e-9:
            result.append(_round_sig(math.sqrt(neighbour * best)))
    return result


def _tune_runs(experiment, template, name, candidate):
    labels = [arm["label"] for arm in experiment.arms if template["group"] == arm["label"] or template["group"].startswith(arm["label"] + "_")]
    prefix = max(labels, key=len, default="")
    runs = []
    for seed in range(experiment.tune_seeds):
        config = resolve({**template["config"], name: candidate, "seed": seed})
        group = group_name(experiment, prefix, config)
        runs.append(PlannedRun(experiment.name, group, f"{group}_seed{seed}", "tune", config, template["configuration"],
                               experiment.stack_seeds))  # fmt: skip
    return runs
