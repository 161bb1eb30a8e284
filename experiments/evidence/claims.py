"""Claims are data: each experiment's TOML declares the notes' claims its runs test.

How a spec declares a claim (no Python needed):

    [[claims]]
    id = "momentum-faster-tuned"            # its id in experiments/report/catalogue.toml
    claim = "Momentum trains faster than gradient descent, each at its own best rate"
    source = ["002"]                        # the notes file(s) the sentence comes from
    test = "difference"                     # a generic test, by name (TESTS below)
    metric = "train_loss"                   # CLAIM_METRICS below
    at_epoch = 3                            # optional: the metric after this epoch (a fixed budget:
                                            # speed claims); without it, at the end of training
    arms = [{ momentum = 0.9 }, { momentum = 0.0 }]   # first minus second
    direction = "less"                      # the claim says first < second ("greater", "less",
                                            # "within" ± margin of `target`, or omitted: measured)
    margin = 0.02                           # practical margin, in the metric's units

An arm is a table of settings (`{ momentum = 0.9 }`), `{ label = "adam" }` for a named [[arms]]
entry, or the string "best": the configuration with the best mean metric. When several
configurations match an arm (a grid over the learning rate, say), the one with the best mean
metric over its learned seeds is taken, the same rule for every arm: each arm gets the same
tuning budget (the grid). A best value at the edge of its grid is reported as a limit.

Tests (`test = ...`), each giving per-seed values that experiments.evidence.decision decides on:
- `difference`: metric(first arm) - metric(second arm), per seed.
- `threshold`: metric(first arm) - `target`, per seed (e.g. the fraction of runs diverged).
- `highest_rate`: per seed, log10 of the highest learning rate at which the run learned (outcome
  ok), first arm minus second (`over` names the varied rate, default learning_rate).
- `best_rate`: per seed, log10 of the learning rate (`over`) whose run that learned has the best
  metric, first arm minus second.
- `best_of_n`: random restarts. The seeds, in order, form groups of `restarts`; per group, the
  validation metric on half B of the run that is best on half A, minus the group's mean on half B
  (what one start gives). Selection and report use disjoint halves of the validation set.
- `slope`: per seed, the slope of log(best `y`) against log(`x`) over the values of `x`, where
  the best `y` minimizes the metric at that `x`; minus `target` (default 0).
- `spread`: the coefficient of variation of the metric over the arm's seeds, minus `target`;
  interval by bootstrap over seeds.
- `rank`: per seed, Kendall's tau between the arms' listed order (best first) and the metric's.
- `measured`: the metric of the first arm, per seed (no direction).
- `kind`: a value an experiment kind measured (non-MLP kinds, experiments/kinds/registry.py): `measure`
  names it; the kind gives per-seed values (or paired differences) under that name.

A kind module registers in experiments/kinds/registry.py and its `run` returns, besides its table and
figures, `measurements`: {name: [per-seed values]}; a claim with `test = "kind"` and
`measure = name` then decides on them with the same rule.

Metrics of a record: those in CLAIM_METRICS. Runs that diverged or failed have no value and drop their
seed's pair (the evidence says how many); runs that did not learn keep their (bad) value.
"""

import dataclasses
import math

import numpy as np
from scipy import stats

from experiments.config.metrics import higher_is_better
from experiments.evidence import decision, pairing

TESTS = ("difference", "threshold", "highest_rate", "best_rate", "best_of_n", "slope", "spread", "rank", "measured", "kind")
CLAIM_KEYS = {
    "id", "claim", "source", "test", "metric", "at_epoch", "arms", "direction", "margin", "target",
    "over", "x", "y", "measure", "note", "restarts",
}  # fmt: skip
HISTORY_KEYS = {"val_loss": "val_loss", "train_loss": "loss", "val_accuracy": "val_accuracy", "train_accuracy": "accuracy"}


def _early_loss(record, steps=20):
    early = record.get("early_steps") or {}
    losses = early.get("loss") or []
    return float(np.mean(losses[:steps])) if losses else None


def _late_progress(record):
    losses = (record.get("history") or {}).get("loss") or []
    if len(losses) < 4:
        return None
    return losses[-1] / losses[len(losses) // 2 - 1]


CLAIM_METRICS = {
    "val_loss": "final validation loss",
    "val_accuracy": "final validation accuracy",
    "train_loss": "final training loss",
    "train_accuracy": "final training accuracy",
    "best_val_accuracy": "best validation accuracy over the epochs",
    "ms_per_update": "milliseconds per update",
    "loss_increases": "epochs whose training loss rose",
    "learned": "1 if the run learned (outcome ok), else 0",
    "diverged": "1 if the run diverged, else 0",
    "early_loss": "mean training loss over the first 20 steps",
    "late_progress": "final training loss over the loss at mid-training",
    "steps": "per-seed value from the experiment kind",
}
HALVES_METRICS = ("val_loss", "val_accuracy")  # also measured on each half of the validation set
FINISHED = ("ok", "did_not_learn")


class ClaimError(ValueError):
    """A [[claims]] entry is malformed."""


@dataclasses.dataclass
class Claim:
    id: str
    claim: str
    source: list
    test: str
    metric: str = "val_loss"
    arms: list = dataclasses.field(default_factory=list)
    direction: str = None
    margin: float = 0.0
    target: float = 0.0
    at_epoch: int = None
    over: str = "learning_rate"
    x: str = "batch_size"
    y: str = "learning_rate"
    measure: str = ""
    note: str = ""
    restarts: int = 3

    @property
    def budget(self):
        """What the metric measures: a fixed budget (speed) or the end of training (end state)."""
        if self.metric in ("learned", "diverged", "early_loss", "late_progress", "ms_per_update"):
            return ""
        return f"after epoch {self.at_epoch} (fixed budget)" if self.at_epoch else "at the end of training"


def parse(raw_claims, where, validate_setting):
    """[[claims]] entries -> Claims; `validate_setting(name, value)` checks arm settings."""
    if not isinstance(raw_claims, list):
        raise ClaimError(f"{where}: `claims` must be an array of tables ([[claims]])")
    result, seen = [], set()
    for raw in raw_claims:
        if not isinstance(raw, dict):
            raise ClaimError(f"{where}: each [[claims]] entry must be a table; got {raw!r}")
        name = raw.get("id", "?")
        unknown = set(raw) - CLAIM_KEYS
        if unknown:
            raise ClaimError(f"{where}: claim {name!r}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CLAIM_KEYS)}")
        for key in ("id", "claim"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise ClaimError(f"{where}: claim {name!r}: `{key}` (a non-empty string) is required")
        if raw["id"] in seen:
            raise ClaimError(f"{where}: claim id {raw['id']!r} declared twice")
        seen.add(raw["id"])
        source = raw.get("source", [])
        source = [source] if isinstance(source, str) else source
        test = raw.get("test")
        if test not in TESTS:
            raise ClaimError(f"{where}: claim {name!r}: `test` must be one of {TESTS}; got {test!r}")
        metric = raw.get("metric", "val_loss")
        if test != "kind" and metric not in CLAIM_METRICS:
            raise ClaimError(f"{where}: claim {name!r}: `metric` must be one of {sorted(CLAIM_METRICS)}; got {metric!r}")
        direction = raw.get("direction")
        if direction not in decision.DIRECTIONS:
            raise ClaimError(f"{where}: claim {name!r}: `direction` must be one of greater, less, within; got {direction!r}")
        for key in ("margin", "target"):
            value = raw.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (key == "margin" and value < 0):
                raise ClaimError(f"{where}: claim {name!r}: `{key}` must be a number{' >= 0' if key == 'margin' else ''}; got {value!r}")
        arms = raw.get("arms", [])
        if not isinstance(arms, list):
            raise ClaimError(f"{where}: claim {name!r}: `arms` must be a list")
        for arm in arms:
            if arm == "best":
                continue
            if not isinstance(arm, dict):
                raise ClaimError(f"{where}: claim {name!r}: each arm is a table of settings, {{label = ...}} or \"best\"; got {arm!r}")
            for key, value in arm.items():
                if key != "label":
                    arm[key] = validate_setting(key, value)
        wanted = {"difference": 2, "highest_rate": 2, "best_rate": 2, "threshold": 1, "measured": 1, "spread": 1, "rank": 2}
        if test in wanted and len(arms) < wanted[test]:
            raise ClaimError(f"{where}: claim {name!r}: test {test!r} needs at least {wanted[test]} arm(s); got {len(arms)}")
        if test == "kind" and not raw.get("measure"):
            raise ClaimError(f"{where}: claim {name!r}: test 'kind' needs `measure`, the name of a kind's measurement")
        restarts = raw.get("restarts", 3)
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 2:
            raise ClaimError(f"{where}: claim {name!r}: `restarts` (the N of best of N) must be an integer >= 2; got {restarts!r}")
        if test == "best_of_n" and metric not in HALVES_METRICS:
            raise ClaimError(f"{where}: claim {name!r}: test 'best_of_n' needs `metric` in {sorted(HALVES_METRICS)}; got {metric!r}")
        at_epoch = raw.get("at_epoch")
        if at_epoch is not None and (not isinstance(at_epoch, int) or at_epoch < 1):
            raise ClaimError(f"{where}: claim {name!r}: `at_epoch` must be an integer >= 1; got {at_epoch!r}")
        result.append(Claim(
            id=raw["id"], claim=raw["claim"].strip(), source=list(source), test=test, metric=metric, arms=arms,
            direction=direction, margin=float(raw.get("margin", 0.0)), target=float(raw.get("target", 0.0)),
            at_epoch=at_epoch, over=raw.get("over", "learning_rate"), x=raw.get("x", "batch_size"),
            y=raw.get("y", "learning_rate"), measure=raw.get("measure", ""), note=raw.get("note", ""),
            restarts=restarts,
        ))  # fmt: skip
    return result


# -- Values of one record ------------------------------------------------------------------------


def value(record, metric, at_epoch=None):
    """The record's `metric` (None where the run has no usable value: diverged, failed, NaN)."""
    status = record.get("status")
    if metric == "learned":
        return 1.0 if status == "ok" else 0.0
    if metric == "diverged":
        return 1.0 if status == "diverged" else 0.0
    if status not in FINISHED:
        return None
    if metric == "early_loss":
        result = _early_loss(record)
    elif metric == "late_progress":
        result = _late_progress(record)
    elif at_epoch is not None and metric in HISTORY_KEYS:
        series = (record.get("history") or {}).get(HISTORY_KEYS[metric]) or []
        result = series[at_epoch - 1] if len(series) >= at_epoch else None
    else:
        result = (record.get("metrics") or {}).get(metric)
    if result is None or not math.isfinite(result):
        return None
    return float(result)


# -- Which runs an arm means ----------------------------------------------------------------------


def _matches(record, arm, experiment):
    config = record["config"]
    if "label" in arm:
        if arm_label(experiment, config) != arm["label"]:
            return False
    return all(config.get(k) == v for k, v in arm.items() if k != "label")


def arm_label(experiment, config):
    """The named [[arms]] entry a config belongs to: the most specific one whose settings it has."""
    best, size = "", -1
    for arm in experiment.arms:
        settings = {k: v for k, v in arm.items() if k != "label"}
        if all(config.get(k) == v for k, v in settings.items()) and len(settings) > size:
            best, size = arm["label"], len(settings)
    return best


def _by_group(records):
    groups = {}
    for record in records:
        groups.setdefault(record["group"], {})[record["config"]["seed"]] = record
    return groups


def _claim_mean_score(seeds, claim):
    values = [value(r, claim.metric, claim.at_epoch) for r in seeds.values()]
    values = [v for v in values if v is not None]
    learned = sum(r.get("status") == "ok" for r in seeds.values())
    if not values or learned == 0:
        return math.inf
    mean = float(np.mean(values))
    return -mean if higher_is_better(claim.metric) else mean


def select(records, arm, claim, experiment):
    """seed -> record for one arm, and a note when its configuration was chosen from several."""
    groups = _by_group(r for r in records if arm == "best" or _matches(r, arm, experiment))
    if not groups:
        return {}, f"no runs match arm {arm!r}"
    if len(groups) == 1:
        seeds = next(iter(groups.values()))
        return seeds, _tuned_at_edge(seeds, experiment, arm)
    ranked = sorted(groups.items(), key=lambda item: _claim_mean_score(item[1], claim))
    group, seeds = ranked[0]
    note = f"{group} chosen from {len(groups)} configurations by mean {claim.metric}"
    rates = sorted({r["config"].get("learning_rate") for s in groups.values() for r in s.values()})
    chosen = next(iter(seeds.values()))["config"].get("learning_rate")
    if len(rates) > 2 and chosen in (rates[0], rates[-1]):
        note += f" (learning rate {chosen:g} at the grid's edge: a limit of this verdict)"
    return seeds, note


def _tuned_at_edge(seeds, experiment, arm):
    """A tuned arm whose chosen value sits at the edge of its grid: a limit of the verdict."""
    config = next(iter(seeds.values()))["config"]
    notes = [
        f"{_arm_name(arm)}: tuned {name} {config[name]:g} at the grid's edge (a limit of this verdict)"
        for name, grid in experiment.tune.items()
        if len(grid) > 2 and config.get(name) in (min(grid), max(grid))
    ]
    return "; ".join(notes)


def _arm_name(arm):
    if arm == "best":
        return "best configuration"
    return ", ".join(f"{k}={v}" for k, v in arm.items())


# -- Tests: per-seed values -------------------------------------------------------------------------


def evaluate(claim, experiment, records, measurements=None, dataset="digits"):
    """The claim's Finding (experiments.evidence.findings) from the experiment's records."""
    from experiments.evidence.findings import Finding

    notes = []
    if claim.test == "kind":
        samples = (measurements or {}).get(claim.measure)
        if samples is None:
            notes.append(f"the experiment did not measure {claim.measure!r}")
            samples = []
        values = [s - claim.target for s in samples]
    else:
        try:
            values, notes = per_seed_values(claim, experiment, records)
        except pairing.PairingError as error:
            values, notes = [], [f"not decided: the arms are not paired ({error})"]
    if claim.test == "spread":
        result = _spread_effect(values, claim)
    else:
        result = decision.decide(values, claim.direction, claim.margin)
    if claim.test == "best_of_n" and result.n:
        notes.append(f"n counts groups of {claim.restarts} seeds"
                     + (f" ({result.needed_n} groups = {result.needed_n * claim.restarts} seeds would settle it)" if result.needed_n else ""))
    about_outcomes = claim.metric in ("learned", "diverged")
    everything_failed = claim.test != "kind" and not about_outcomes and records and not any(r.get("status") == "ok" for r in _claim_runs(claim, experiment, records))
    if everything_failed:
        result = decision.Effect("no information", result.effect, result.ci, result.n, result.method)
        notes.append("no run of any arm learned")
    metric = {
        "kind": claim.measure,
        "highest_rate": f"log10 of the highest {claim.over} that learned",
        "best_rate": f"log10 of the {claim.over} with the best {_metric_text(claim)}",
        "best_of_n": f"{claim.metric} on half B, best of {claim.restarts} (picked on half A) minus one start",
        "slope": f"log-log slope of the best {claim.y} (by {_metric_text(claim)}) against {claim.x}",
        "spread": f"coefficient of variation of {_metric_text(claim)}",
        "rank": f"Kendall's tau of {_metric_text(claim)}",
    }.get(claim.test, _metric_text(claim))
    text = f"{_test_description(claim)}: {result.describe()}."
    notes = [n for n in notes if n]
    if notes:
        text += " " + "; ".join(notes) + "."
    if claim.note:
        text += " " + claim.note
    return Finding(
        claim=claim.claim, verdict=result.verdict, evidence=text, id=claim.id, source=claim.source,
        effect=_finite(result.effect), ci=[_finite(result.ci[0]), _finite(result.ci[1])], n=result.n,
        metric=metric, method=result.method, needed_n=result.needed_n, margin=claim.margin,
        experiment=experiment.name, dataset=dataset,
    )  # fmt: skip


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None


def _claim_runs(claim, experiment, records):
    if not claim.arms or "best" in claim.arms:
        return records
    return [r for r in records if any(_matches(r, arm, experiment) for arm in claim.arms)]


def _test_description(claim):
    arms = [_arm_name(a) for a in claim.arms]
    target = f", minus {claim.target:g}" if claim.target else ""
    if claim.test == "difference":
        return f"{_metric_text(claim)}, {arms[0]} minus {arms[1]}, paired by seed"
    if claim.test == "threshold":
        return f"{_metric_text(claim)} at {arms[0]}{target}, per seed"
    if claim.test == "highest_rate":
        return f"log10 of the highest {claim.over} that learned, {arms[0]} minus {arms[1]}, per seed"
    if claim.test == "best_rate":
        return f"log10 of the {claim.over} with the best {_metric_text(claim)}, {arms[0]} minus {arms[1]}, per seed"
    if claim.test == "best_of_n":
        return (f"{claim.metric} on one half of the validation set of the best of {claim.restarts} starts (picked on "
                f"the other half) minus the mean of the {claim.restarts}, per group of seeds")
    if claim.test == "slope":
        return f"slope of log(best {claim.y}) against log({claim.x}){target}, per seed"
    if claim.test == "spread":
        return f"coefficient of variation of {claim.metric} over seeds{target} (bootstrap over seeds)"
    if claim.test == "rank":
        return f"Kendall's tau between the order {' > '.join(arms)} and {claim.metric}, per seed"
    if claim.test == "kind":
        return f"{claim.measure}{target}"
    return f"{_metric_text(claim)} at {arms[0] if arms else 'every run'}"


def per_seed_values(claim, experiment, records):
    final = [r for r in records if r.get("stage", "final") == "final"] or records
    if claim.test in ("highest_rate", "best_rate", "slope"):
        return _grid_test(claim, experiment, records)
    if claim.test == "best_of_n":
        return _best_of_n(claim, experiment, final)
    arms, notes = [], []
    for arm in claim.arms or ["best"]:
        seeds, note = select(final, arm, claim, experiment)
        arms.append(seeds)
        notes.append(note)
    if claim.test in ("threshold", "measured", "spread"):
        values = [value(r, claim.metric, claim.at_epoch) for _, r in sorted(arms[0].items())]
        dropped = sum(v is None for v in values)
        if dropped:
            notes.append(f"{dropped} seed(s) without a value (diverged or failed)")
        return [v - claim.target for v in values if v is not None], notes
    if claim.test == "rank":
        return _rank_values(claim, arms), notes
    pairs = pairing.pair(arms[0], arms[1])
    values, dropped = [], 0
    for _, a, b in pairs:
        va, vb = value(a, claim.metric, claim.at_epoch), value(b, claim.metric, claim.at_epoch)
        if va is None or vb is None:
            dropped += 1
        else:
            values.append(va - vb)
    if dropped:
        notes.append(f"{dropped} pair(s) dropped: a run diverged or failed")
    return values, notes


def _rank_values(claim, arms):
    seeds = sorted(set.intersection(*(set(a) for a in arms)))
    values = []
    for seed in seeds:
        scores = [value(a[seed], claim.metric, claim.at_epoch) for a in arms]
        if any(s is None for s in scores):
            continue
        sign = 1.0 if higher_is_better(claim.metric) else -1.0
        tau = stats.kendalltau(np.arange(len(scores))[::-1], sign * np.asarray(scores)).statistic
        values.append(float(tau) if math.isfinite(tau) else 0.0)
    return values


def _grid_test(claim, experiment, records):
    """highest_rate and slope: per-seed statistics over a grid of configurations."""
    notes = []
    if claim.test in ("highest_rate", "best_rate"):
        per_arm = []
        for arm in claim.arms[:2]:
            runs = [r for r in records if _matches(r, arm, experiment)]
            grid = sorted({r["config"][claim.over] for r in runs})
            chosen = {}
            for seed in sorted({r["config"]["seed"] for r in runs}):
                learned = [r for r in runs if r["config"]["seed"] == seed and r["status"] == "ok"]
                rate = _highest_or_best_rate(claim, learned)
                chosen[seed] = math.log10(rate) if rate is not None else None
                if claim.test == "highest_rate" and rate is not None and grid and rate == grid[-1]:
                    notes.append(f"{_arm_name(arm)} learned at the grid's top rate {grid[-1]:g} (a lower bound)")
                if claim.test == "best_rate" and rate is not None and len(grid) > 2 and rate in (grid[0], grid[-1]):
                    notes.append(f"{_arm_name(arm)}: best {claim.over} {rate:g} at the grid's edge on some seed (a bound)")
            per_arm.append(chosen)
        values = [
            a - b for seed, a in per_arm[0].items()
            if a is not None and per_arm[1].get(seed) is not None
            for b in [per_arm[1][seed]]
        ]  # fmt: skip
        return values, sorted(set(notes))
    # slope
    values = []
    seeds = sorted({r["config"]["seed"] for r in records})
    xs = sorted({_numeric_x(r, claim.x) for r in records if _numeric_x(r, claim.x) is not None})
    for seed in seeds:
        points = []
        for x in xs:
            runs = [r for r in records if r["config"]["seed"] == seed and _numeric_x(r, claim.x) == x]
            scored = [(value(r, claim.metric, claim.at_epoch), r) for r in runs if r["status"] == "ok"]
            scored = [(v, r) for v, r in scored if v is not None]
            if scored:
                sign = -1 if higher_is_better(claim.metric) else 1
                best = min(scored, key=lambda item: sign * item[0])[1]
                points.append((x, best["config"][claim.y]))
        if len(points) >= 2:
            x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            values.append(float(np.polyfit(x, y, 1)[0]) - claim.target)
    return values, notes


def _highest_or_best_rate(claim, learned):
    """Of one seed's runs that learned: the highest `over` (highest_rate), or the `over` whose
    metric is best (best_rate); None when none learned or none has a value."""
    if claim.test == "highest_rate":
        return max((r["config"][claim.over] for r in learned), default=None)
    scored = [(value(r, claim.metric, claim.at_epoch), r["config"][claim.over]) for r in learned]
    scored = [(v, rate) for v, rate in scored if v is not None]
    if not scored:
        return None
    sign = -1 if higher_is_better(claim.metric) else 1
    return min(scored, key=lambda item: sign * item[0])[1]


def _best_of_n(claim, experiment, records):
    """Per group of `restarts` seeds: half B's metric of the run best on half A, minus the
    group's mean on half B. Only runs that learned can be picked; a group with a run without a
    value is dropped."""
    seeds, note = select(records, claim.arms[0] if claim.arms else "best", claim, experiment)
    notes = [note]
    ordered = [seeds[s] for s in sorted(seeds)]
    size = claim.restarts
    groups = [ordered[i : i + size] for i in range(0, len(ordered) - size + 1, size)]
    if len(ordered) % size:
        notes.append(f"{len(ordered) % size} seed(s) left over after groups of {size}")
    sign = -1 if higher_is_better(claim.metric) else 1
    values, dropped = [], 0
    for group in groups:
        on_a = [value(r, f"{claim.metric}_half_a") for r in group]
        on_b = [value(r, f"{claim.metric}_half_b") for r in group]
        if any(v is None for v in on_a + on_b):
            dropped += 1
            continue
        picked = min(range(size), key=lambda i: (group[i].get("status") != "ok", sign * on_a[i]))
        values.append(on_b[picked] - float(np.mean(on_b)))
    if dropped:
        notes.append(f"{dropped} group(s) dropped: a run diverged, failed or has no half-validation metrics")
    return values, notes


def _numeric_x(record, name):
    if name == "batch_size":
        size = (record.get("metrics") or {}).get("effective_batch_size")
        if size:
            return float(size)
    x = record["config"].get(name)
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _spread_effect(values, claim):
    """Coefficient of variation over seeds (values are metric - target; add target back)."""
    raw = np.asarray(values, dtype=float) + claim.target
    if raw.size < 3:
        return decision.Effect("no information" if raw.size == 0 else "inconclusive", math.nan, (math.nan, math.nan), int(raw.size), "none")

    def cv(sample):
        return np.std(sample, ddof=1) / np.mean(sample)

    result = stats.bootstrap(
        (raw,), cv, confidence_level=decision.CONFIDENCE, n_resamples=decision.BOOTSTRAP_RESAMPLES,
        method="percentile", random_state=np.random.default_rng(0),
    )  # fmt: skip
    effect = float(cv(raw)) - claim.target
    low, high = float(result.confidence_interval.low) - claim.target, float(result.confidence_interval.high) - claim.target
    return decision.Effect(decision.verdict_of_interval(low, high, claim.direction, claim.margin), effect, (low, high), int(raw.size), "bootstrap")


def _metric_text(claim):
    return f"{claim.metric} {claim.budget}".strip()
