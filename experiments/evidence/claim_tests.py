"""The claim tests: per-seed values from an experiment's records, and the Finding they give.

Each test (`test = ...` of a [[claims]] entry, experiments/evidence/claims.py lists them) turns
records into one value per seed (or per group of seeds); experiments.evidence.decision decides on
them, choosing the interval by the kind of value:
- paired yes/no outcomes (a `difference` of `learned` or `diverged`, or a kind's (first, second)
  0/1 pairs): the difference of proportions with its exact conditional (McNemar) interval;
- one arm's yes/no outcomes (`threshold` of `learned` / `diverged`, a kind's 0/1 values): Wilson's
  score interval for the proportion, minus `target`;
- everything else: the mean with the t interval (BCa bootstrap or the sign test's interval of the
  median when the values are far from normal); `spread` by a bootstrap of the coefficient of variation.
A claim looked at more than once (more seeds after an inconclusive look) is decided by the
sequential rule: the first look at 97.5%, the later ones by a 97.5% confidence sequence.
"""

import math

import numpy as np
from scipy import stats

from experiments.config.metrics import higher_is_better
from experiments.evidence import arms as records_of
from experiments.evidence import decision, pairing
from experiments.evidence.findings import Finding


def evaluate(claim, experiment, records, measurements=None, dataset="digits", looks=None, max_seeds=None):
    """The claim's Finding from the experiment's records (or a kind's `measurements`). `looks`:
    the numbers of seeds after which the claim was looked at, in order (None: one look, at every
    seed there is); more than one look uses the sequential rule (experiments.evidence.decision).
    `max_seeds`: the claim's seed budget, to say whether it ran out."""
    values, notes, counts = _values_at_looks(claim, experiment, records, measurements, looks)
    kind = _value_kind(claim, values)
    if claim.test == "spread":
        result = _spread_effect(values, claim)
    else:
        more_to_come = bool(looks and max_seeds and max_seeds > looks[0])  # the first look spends half of the 5%
        result = decision.decide_looks(values, claim.direction, claim.margin, counts, kind, claim.target, max_seeds, more_to_come)
    if claim.test == "best_of_n" and result.n:
        notes.append(f"n counts groups of {claim.restarts} seeds"
                     + (f" ({result.needed_n} groups = {result.needed_n * claim.restarts} seeds would settle it)" if result.needed_n else ""))
    about_outcomes = claim.metric in ("learned", "diverged")
    everything_failed = claim.test != "kind" and not about_outcomes and records and not any(r.get("status") == "ok" for r in _claim_runs(claim, experiment, records))
    if everything_failed:
        result = decision.Effect("no information", result.effect, result.ci, result.n, result.method)
        notes.append("no run of any arm learned")
    seeds = looks[-1] if looks else None
    exhausted = bool(looks and max_seeds and result.verdict == "inconclusive" and seeds >= max_seeds)
    if looks and len(looks) > 1:
        notes.append(f"{seeds} seeds after looks at {', '.join(map(str, looks))}" + ("; the seed budget ran out" if exhausted else ""))
    text = f"{_test_description(claim)}: {result.describe()}."
    notes = [n for n in notes if n]
    if notes:
        text += " " + "; ".join(notes) + "."
    if claim.note:
        text += " " + claim.note
    return Finding(
        claim=claim.claim, verdict=result.verdict, evidence=text, id=claim.id, source=claim.source,
        effect=_finite(result.effect), ci=[_finite(result.ci[0]), _finite(result.ci[1])], n=result.n,
        metric=_metric_name(claim), method=result.method, needed_n=result.needed_n, margin=claim.margin,
        experiment=experiment.name, dataset=dataset, seeds=seeds, budget_exhausted=exhausted,
        direction=claim.direction, speed=claim.budget,
    )  # fmt: skip


def reads(claim, experiment, config):
    """Whether the claim reads runs with this config (more seeds for an undecided claim train
    only the configurations it reads)."""
    if not claim.arms or "best" in claim.arms:
        return True
    return any(records_of.matches({"config": config}, arm, experiment) for arm in claim.arms)


def _values_at_looks(claim, experiment, records, measurements, looks):
    """The per-seed values at the last look, notes, and how many values each look had."""
    if claim.test == "kind":
        samples = (measurements or {}).get(claim.measure)
        notes = [] if samples is not None else [f"the experiment did not measure {claim.measure!r}"]
        values = [s if isinstance(s, (tuple, list)) else s - claim.target for s in samples or []]
        last = looks[-1] if looks else None
        counts = [round(len(values) * look / last) for look in looks] if last else [len(values)]
        return values, notes, counts
    try:
        values, notes = per_seed_values(claim, experiment, records)
        counts = [len(per_seed_values(claim, experiment, _up_to(records, look))[0]) for look in (looks or [])[:-1]]
    except pairing.PairingError as error:
        return [], [f"not decided: the arms are not paired ({error})"], [0]
    return values, notes, [*counts, len(values)]


def _up_to(records, seeds):
    return [r for r in records if r["config"].get("seed", 0) < seeds]


def _value_kind(claim, values):
    """Paired yes/no outcomes come as pairs; one arm's yes/no per seed (a `learned` or `diverged`
    metric, or a kind's 0/1 measurement) is OUTCOMES; the rest is continuous."""
    kind = decision.value_kind(values)
    if kind == decision.CONTINUOUS and values and all(v + claim.target in (0.0, 1.0) for v in values):
        if claim.metric in ("learned", "diverged") or claim.test == "kind":
            return decision.OUTCOMES
    return kind


def _metric_name(claim):
    return {
        "kind": claim.measure,
        "highest_rate": f"log10 of the highest {claim.over} that learned",
        "best_rate": f"log10 of the {claim.over} with the best {_metric_text(claim)}",
        "best_of_n": f"{claim.metric} on half B, best of {claim.restarts} (picked on half A) minus one start",
        "slope": f"log-log slope of the best {claim.y} (by {_metric_text(claim)}) against {claim.x}",
        "spread": f"coefficient of variation of {_metric_text(claim)}",
        "rank": f"Kendall's tau of {_metric_text(claim)}",
    }.get(claim.test, _metric_text(claim))


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None


def _claim_runs(claim, experiment, records):
    if not claim.arms or "best" in claim.arms:
        return records
    return [r for r in records if any(records_of.matches(r, arm, experiment) for arm in claim.arms)]


def _test_description(claim):
    arms = [records_of.arm_name(a) for a in claim.arms]
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
        seeds, note = records_of.select(final, arm, claim, experiment, records)
        arms.append(seeds)
        notes.append(note)
    if claim.test in ("threshold", "measured", "spread"):
        values = [records_of.value(r, claim.metric, claim.at_epoch) for _, r in sorted(arms[0].items())]
        dropped = sum(v is None for v in values)
        if dropped:
            notes.append(f"{dropped} seed(s) without a value (diverged or failed)")
        return [v - claim.target for v in values if v is not None], notes
    if claim.test == "rank":
        return _rank_values(claim, arms), notes
    pairs = pairing.pair(arms[0], arms[1])
    values, dropped = [], 0
    for _, a, b in pairs:
        va, vb = records_of.value(a, claim.metric, claim.at_epoch), records_of.value(b, claim.metric, claim.at_epoch)
        if va is None or vb is None:
            dropped += 1
        else:
            values.append((va, vb) if claim.metric in ("learned", "diverged") else va - vb)
    if dropped:
        notes.append(f"{dropped} pair(s) dropped: a run diverged or failed")
    return values, notes


def _rank_values(claim, arms):
    seeds = sorted(set.intersection(*(set(a) for a in arms)))
    values = []
    for seed in seeds:
        scores = [records_of.value(a[seed], claim.metric, claim.at_epoch) for a in arms]
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
            runs = [r for r in records if records_of.matches(r, arm, experiment)]
            grid = sorted({r["config"][claim.over] for r in runs})
            chosen = {}
            for seed in sorted({r["config"]["seed"] for r in runs}):
                learned = [r for r in runs if r["config"]["seed"] == seed and r["status"] == "ok"]
                rate = _highest_or_best_rate(claim, learned)
                chosen[seed] = math.log10(rate) if rate is not None else None
                if claim.test == "highest_rate" and rate is not None and grid and rate == grid[-1]:
                    notes.append(f"{records_of.arm_name(arm)} learned at the grid's top rate {grid[-1]:g} (a lower bound)")
                if claim.test == "best_rate" and rate is not None and len(grid) > 2 and rate in (grid[0], grid[-1]):
                    notes.append(f"{records_of.arm_name(arm)}: best {claim.over} {rate:g} at the grid's edge on some seed (a bound)")
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
            scored = [(records_of.value(r, claim.metric, claim.at_epoch), r) for r in runs if r["status"] == "ok"]
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
    scored = [(records_of.value(r, claim.metric, claim.at_epoch), r["config"][claim.over]) for r in learned]
    scored = [(v, rate) for v, rate in scored if v is not None]
    if not scored:
        return None
    sign = -1 if higher_is_better(claim.metric) else 1
    return min(scored, key=lambda item: sign * item[0])[1]


def _best_of_n(claim, experiment, records):
    """Per group of `restarts` seeds: half B's metric of the run best on half A, minus the
    group's mean on half B. Only runs that learned can be picked; a group with a run without a
    value is dropped."""
    seeds, note = records_of.select(records, claim.arms[0] if claim.arms else "best", claim, experiment)
    notes = [note]
    ordered = [seeds[s] for s in sorted(seeds)]
    size = claim.restarts
    groups = [ordered[i : i + size] for i in range(0, len(ordered) - size + 1, size)]
    if len(ordered) % size:
        notes.append(f"{len(ordered) % size} seed(s) left over after groups of {size}")
    sign = -1 if higher_is_better(claim.metric) else 1
    values, dropped = [], 0
    for group in groups:
        on_a = [records_of.value(r, f"{claim.metric}_half_a") for r in group]
        on_b = [records_of.value(r, f"{claim.metric}_half_b") for r in group]
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
