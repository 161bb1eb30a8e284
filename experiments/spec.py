"""Experiment files: one TOML file per study in experiments/specs/, read into run plans.

A file names what the study compares and what it holds fixed:

    description = "one line for --list"
    question = "what the experiment asks; the report answers it"
    seeds = 3                      # seeds per configuration
    model = "mypackage.models:build"  # a user's builder / loader (experiments/plugins.py),
    data = "mypackage.data:load"      # like --model / --data: [fixed] model / dataset
    [fixed]                        # settings held fixed (experiments/settings.py)
    optimizer = "sgd"
    [vary]                         # scientific settings: every combination is a configuration
    batch_size = [8, 32, "full"]
    [[arms]]                       # or/and named arms, each a table of settings
    label = "momentum"
    momentum = 0.9
    [tune]                         # nuisance settings tuned per configuration on seed 0
    learning_rate = [0.01, 0.1, 1.0]
    [search]                       # random search instead of a grid (log-uniform for rates)
    trials = 20
    top = 3                        # re-run the best `top` trials over all seeds
    learning_rate = { log_uniform = [1e-4, 1.0] }
    batch_size = { choice = [16, 32, 64] }
    [sizes.quick]                  # overrides for --size quick (same keys as the top level)
    seeds = 2
    fixed = { epochs = 10 }

Unknown keys are errors, not silently ignored.
"""

import dataclasses
import itertools
import math
import os

import numpy as np
import tomllib

from experiments.settings import SETTINGS, SettingError, validate

SPECS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "specs")
SIZES = ("quick", "full")
TOP_LEVEL_KEYS = {"description", "question", "analysis", "seeds", "metric", "fixed", "vary", "arms", "tune", "search", "sizes", "kind", "params"}
# A user's own builder / loader for every run: `model = "pkg.mod:build"`, `data = "pkg.mod:load"`
# (experiments/plugins.py), the same as `--model` / `--data`; shorthand for [fixed] model / dataset.
PLUGIN_KEYS = {"model": "model", "data": "dataset"}
TOP_LEVEL_KEYS |= set(PLUGIN_KEYS)
SIZED_KEYS = {"seeds", "fixed", "vary", "tune", "search", "params"}
# Experiments that are not training runs of the MLP: their module takes `[params]` (checked
# against its DEFAULT_PARAMS) and runs them; see experiments/surfaces.py for the interface.
KINDS = {"mlp": None, "surfaces": "experiments.surfaces", "deep_linear": "experiments.deep_linear"}
METRICS = ("val_loss", "val_accuracy", "train_loss")
DISTRIBUTIONS = ("log_uniform", "uniform", "choice", "int_uniform")


class SpecError(ValueError):
    """An experiment file is malformed."""


@dataclasses.dataclass
class Experiment:
    name: str
    description: str
    question: str
    analysis: str
    seeds: int
    metric: str
    fixed: dict
    vary: dict
    arms: list
    tune: dict
    search: dict
    kind: str = "mlp"
    params: dict = dataclasses.field(default_factory=dict)

    @property
    def varied_settings(self):
        """Settings whose values differ between runs: they name the runs."""
        names = list(self.vary) + list(self.tune) + [k for k in self.search if k not in ("trials", "top")]
        for arm in self.arms:
            names += [k for k in arm if k != "label" and k not in names]
        return list(dict.fromkeys(names))


def available(specs_dir=SPECS_DIR):
    """Experiment names, from the files in `specs_dir`."""
    return sorted(f[:-5] for f in os.listdir(specs_dir) if f.endswith(".toml"))


def load(name, size="quick", specs_dir=SPECS_DIR):
    path = os.path.join(specs_dir, f"{name}.toml")
    if not os.path.exists(path):
        raise SpecError(f"unknown experiment {name!r}; available: {', '.join(available(specs_dir))}")
    with open(path, "rb") as f:
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"{path}: {error}") from None
    return parse(name, raw, size, path)


def parse(name, raw, size="quick", where="<experiment>"):
    def fail(message):
        raise SpecError(f"{where}: {message}")

    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    for key in ("description", "question"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            fail(f"`{key}` (a non-empty string) is required")
    if size not in SIZES:
        fail(f"size must be one of {SIZES}; got {size!r}")
    sizes = raw.get("sizes", {})
    if set(sizes) - set(SIZES):
        fail(f"unknown size(s) {sorted(set(sizes) - set(SIZES))}; allowed: {list(SIZES)}")
    merged = {k: v for k, v in raw.items() if k != "sizes"}
    for key, value in sizes.get(size, {}).items():
        if key not in SIZED_KEYS:
            fail(f"sizes.{size}: key {key!r} cannot be sized; allowed: {sorted(SIZED_KEYS)}")
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value

    for key, setting in PLUGIN_KEYS.items():
        if key in merged:
            if setting in merged.get("fixed", {}):
                fail(f"`{key}` and [fixed] {setting} both given; keep one")
            merged["fixed"] = {**merged.get("fixed", {}), setting: merged[key]}
    try:
        fixed = {k: validate(k, v) for k, v in merged.get("fixed", {}).items()}
        vary = {k: _values(k, v, fail) for k, v in merged.get("vary", {}).items()}
        tune = {k: _values(k, v, fail) for k, v in merged.get("tune", {}).items()}
        arms = [_arm(arm, fail) for arm in merged.get("arms", [])]
        search = _search(merged.get("search", {}), fail)
    except SettingError as error:
        fail(str(error))
    seeds = merged.get("seeds", 1)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        fail(f"`seeds` must be an integer >= 1; got {seeds!r}")
    from experiments.analyses import ANALYSES

    if merged.get("analysis", "") not in ANALYSES:
        fail(f"`analysis` must be one of {sorted(a for a in ANALYSES if a)}; got {merged['analysis']!r}")
    metric = merged.get("metric", "val_loss")
    if metric not in METRICS:
        fail(f"`metric` must be one of {METRICS}; got {metric!r}")
    overlap = set(fixed) & (set(vary) | set(tune) | set(search))
    if overlap:
        fail(f"setting(s) {sorted(overlap)} both fixed and varied")
    kind = merged.get("kind", "mlp")
    if kind not in KINDS:
        fail(f"`kind` must be one of {sorted(KINDS)}; got {kind!r}")
    params = _params(kind, merged.get("params", {}), fail)
    return Experiment(
        name=name,
        description=raw["description"].strip(),
        question=raw["question"].strip(),
        analysis=raw.get("analysis", ""),
        seeds=seeds,
        metric=metric,
        fixed=fixed,
        vary=vary,
        arms=arms,
        tune=tune,
        search=search,
        kind=kind,
        params=params,
    )


def _params(kind, params, fail):
    """A non-MLP experiment's [params], checked against its module's DEFAULT_PARAMS."""
    if kind == "mlp":
        if params:
            fail("`params` is for experiments of another kind; an MLP experiment uses [fixed] and [vary]")
        return {}
    import importlib

    defaults = importlib.import_module(KINDS[kind]).DEFAULT_PARAMS
    unknown = set(params) - set(defaults)
    if unknown:
        fail(f"unknown params {sorted(unknown)} for kind {kind!r}; allowed: {sorted(defaults)}")
    resolved = dict(defaults)
    for name, value in params.items():
        default = defaults[name]
        ok = isinstance(value, type(default)) and not (isinstance(value, bool) and not isinstance(default, bool))
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            fail(f"params.{name} must be a {type(default).__name__} like {default!r}; got {value!r}")
        resolved[name] = value
    return resolved


def _values(name, values, fail):
    if name not in SETTINGS:
        validate(name, None)  # the unknown-setting error, with suggestions
    if not isinstance(values, list) or not values:
        fail(f"`{name}` must list at least one value; got {values!r}")
    return [validate(name, v) for v in values]


def _arm(arm, fail):
    if not isinstance(arm, dict):
        fail(f"each [[arms]] entry must be a table; got {arm!r}")
    label = arm.get("label")
    if not isinstance(label, str) or not label:
        fail(f"each [[arms]] entry needs a `label`; got {arm!r}")
    settings = {k: validate(k, v) for k, v in arm.items() if k != "label"}
    return {"label": label, **settings}


def _search(search, fail):
    if not search:
        return {}
    result = {"trials": search.get("trials", 10), "top": search.get("top", 1)}
    for key in ("trials", "top"):
        if not isinstance(result[key], int) or result[key] < 1:
            fail(f"search.{key} must be an integer >= 1; got {result[key]!r}")
    for name, dist in search.items():
        if name in ("trials", "top"):
            continue
        if name not in SETTINGS:
            validate(name, None)
        if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
            fail(f"search.{name} must be one of {{{' | '.join(f'{d} = [...]' for d in DISTRIBUTIONS)}}}; got {dist!r}")
        kind, args = next(iter(dist.items()))
        if kind == "choice":
            args = [validate(name, v) for v in args]
        elif len(args) != 2 or not args[0] < args[1] or (kind == "log_uniform" and args[0] <= 0):
            fail(f"search.{name}.{kind} needs [low, high] with 0 < low < high for log_uniform; got {args!r}")
        result[name] = {kind: args}
    return result


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
