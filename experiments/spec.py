"""Experiment files: one TOML file per study in experiments/specs/, read into run plans.

A file names what the study compares and what it holds fixed:

    description = "one line for --list"
    question = "what the experiment asks; the report answers it"
    seeds = 3                      # seeds per configuration
    max_seeds = 12                 # a claim still inconclusive gets more seeds, `seeds` at a time, up to
                                   # this (default 3 x seeds); looks after the first use confidence sequences
    tune_seeds = 1                 # seeds [tune] runs each value on; the best mean wins
    stack_seeds = false            # each seed its own run (default true: seeds stacked in one graph);
                                   # for claims on time per update, which stacked members share
    model = "mypackage.models:build"  # a user's builder / loader (experiments/data/plugins.py),
    data = "mypackage.data:load"      # like --model / --data: [fixed] model / dataset
    [fixed]                        # settings held fixed (experiments/config/settings.py)
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
    [[claims]]                     # the notes' claims these runs test: experiments/evidence/claims.py
    id = "momentum-faster-tuned"
    claim = "..."
    test = "difference"
    ...
    [headline]                     # the figure that answers the question: experiments/config/headlines.py
    plot = "best_value"            # best_value | metric_against | highest_stable | per_arm
    x = "batch_size"
    y = "learning_rate"
    [sizes.quick]                  # overrides for --size quick (same keys as the top level)
    seeds = 2
    fixed = { epochs = 10 }

Sizes: the top level is the default size, the honest one: enough seeds (>= 5 per compared
configuration; 6 where per-seed values are discrete or skewed, as the sign test's interval reaches
95% only from n = 6) that its claims can be decided. `quick` is a smoke test: fewer seeds and epochs;
its verdicts may be inconclusive where the default's are not, never the opposite. `full` is an
old name for the default size.

Unknown keys are errors, not silently ignored; `[params]` of other kinds (experiments/kinds/registry.py)
and `[[claims]]` are checked here too, so a bad value exits 2 before anything runs.
"""

import dataclasses
import os

import tomllib

from experiments.config import headlines
from experiments.config.metrics import TUNING_METRICS
from experiments.config.settings import SETTINGS, SettingError, validate
from experiments.evidence import claims
from experiments.kinds import registry

SPECS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "specs")
SIZES = ("default", "quick")
SIZE_ALIASES = {"full": "default"}
TOP_LEVEL_KEYS = {
    "description", "question", "seeds", "metric", "fixed", "vary", "arms", "tune", "tune_seeds", "search", "sizes",
    "kind", "params", "claims", "max_seeds", "headline", "stack_seeds",
}  # fmt: skip
# A user's own builder / loader for every run: `model = "pkg.mod:build"`, `data = "pkg.mod:load"`
# (experiments/data/plugins.py), the same as `--model` / `--data`; shorthand for [fixed] model / dataset.
PLUGIN_KEYS = {"model": "model", "data": "dataset"}
TOP_LEVEL_KEYS |= set(PLUGIN_KEYS)
SIZED_KEYS = {"seeds", "max_seeds", "fixed", "vary", "tune", "tune_seeds", "search", "params"}
DISTRIBUTIONS = ("log_uniform", "uniform", "choice", "int_uniform")


class SpecError(ValueError):
    """An experiment file is malformed."""


@dataclasses.dataclass
class Experiment:
    name: str
    description: str
    question: str
    seeds: int
    metric: str
    fixed: dict
    vary: dict
    arms: list
    tune: dict
    search: dict
    kind: str = "mlp"
    tune_seeds: int = 1  # seeds the [tune] stage runs each value on; the best mean wins
    params: dict = dataclasses.field(default_factory=dict)
    claims: list = dataclasses.field(default_factory=list)  # experiments.evidence.claims.Claim
    max_seeds: int = None  # a claim's seed budget (None: 3 x seeds)
    # False: each seed trains as its own run, never in a stacked group, whose members share one
    # clock (a claim on time per update needs each seed's own timing).
    stack_seeds: bool = True
    headline: object = None  # experiments.config.headlines.Headline: the figure answering the question

    def seed_budget(self, seeds):
        """The looks at a claim: after `seeds`, then `seeds` more at a time up to the budget."""
        budget = max(self.max_seeds or 3 * seeds, seeds)
        return list(range(seeds, budget, seeds)) + [budget] if budget % seeds else list(range(seeds, budget + 1, seeds))

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


def load(name, size="default", specs_dir=SPECS_DIR):
    path = os.path.join(specs_dir, f"{name}.toml")
    if not os.path.exists(path):
        raise SpecError(f"unknown experiment {name!r}; available: {', '.join(available(specs_dir))}")
    with open(path, "rb") as f:
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"{path}: {error}") from None
    return parse(name, raw, size, path)


def parse(name, raw, size="default", where="<experiment>"):
    def fail(message):
        raise SpecError(f"{where}: {message}")

    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    for key in ("description", "question"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            fail(f"`{key}` (a non-empty string) is required")
    size = SIZE_ALIASES.get(size, size)
    if size not in SIZES:
        fail(f"size must be one of {SIZES}; got {size!r}")
    sizes = raw.get("sizes", {})
    if set(sizes) - {"quick"}:
        fail(f"unknown size(s) {sorted(set(sizes) - {'quick'})}; allowed: ['quick'] (the top level is the default size)")
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
    seeds, max_seeds, tune_seeds = (_count(merged, key, default, fail) for key, default in
                                    (("seeds", 1), ("max_seeds", None), ("tune_seeds", 1)))  # fmt: skip
    stack_seeds = merged.get("stack_seeds", True)
    if not isinstance(stack_seeds, bool):
        fail(f"`stack_seeds` must be true or false; got {stack_seeds!r}")
    if tune_seeds > 1 and not tune:
        fail("`tune_seeds` needs a [tune] table: it is how many seeds tune each value")
    metric = merged.get("metric", "val_loss")
    if metric not in TUNING_METRICS:
        fail(f"`metric` must be one of {TUNING_METRICS}; got {metric!r}")
    overlap = set(fixed) & (set(vary) | set(tune) | set(search))
    if overlap:
        fail(f"setting(s) {sorted(overlap)} both fixed and varied")
    kind = merged.get("kind", registry.MLP)
    if kind not in registry.NAMES:
        fail(f"`kind` must be one of {sorted(registry.NAMES)}; got {kind!r}")
    params = registry.resolve_params(kind, merged.get("params", {}), fail)
    try:
        declared = claims.parse(merged.get("claims", []), where, validate)
    except (claims.ClaimError, SettingError) as error:
        raise SpecError(str(error)) from None
    experiment = Experiment(
        name=name,
        description=raw["description"].strip(),
        question=raw["question"].strip(),
        seeds=seeds,
        metric=metric,
        fixed=fixed,
        vary=vary,
        arms=arms,
        tune=tune,
        search=search,
        kind=kind,
        tune_seeds=tune_seeds,
        params=params,
        claims=declared,
        max_seeds=max_seeds,
        stack_seeds=stack_seeds,
    )
    experiment.headline = headlines.parse(merged.get("headline"), experiment, fail)  # the figure that answers
    return experiment


def _count(merged, key, default, fail):
    """An integer >= 1 (seeds, max_seeds, tune_seeds), or `default` when absent."""
    value = merged.get(key, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        fail(f"`{key}` must be an integer >= 1; got {value!r}")
    return value


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
