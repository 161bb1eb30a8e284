"""Paired-seed differences and the verdict they give (the experiments of issue 11).

Decision rule, fixed before the runs: for each seed s, d_s = metric(arm B, s) - metric(arm A, s),
signed so that a positive d means "the claim holds". With n >= 2 differences, the 95% t
interval `mean(d) +- t_{0.975, n-1} * sd(d) / sqrt(n)` gives

    supported     the interval lies above 0
    contradicted  it lies below 0
    no effect     it lies inside (-margin, +margin)
    inconclusive  otherwise (with the n that would give a half-width of |mean| at this spread)
"""

import math

import numpy as np

VERDICTS = ("supported", "contradicted", "no effect", "inconclusive", "measured")


def mean_interval(values, confidence=0.95):
    """(mean, low, high) of `values` with a t interval; the interval is NaN for n < 2."""
    from scipy import stats

    values = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def verdict(low, high, margin):
    """The verdict of an interval for an effect signed so that > 0 is the claim's direction."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    if -margin < low and high < margin:
        return "no effect"
    return "inconclusive"


def seeds_to_settle(differences, margin):
    """Seeds that would make the t interval's half-width smaller than max(|mean|, margin)."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2 or d.std(ddof=1) == 0:
        return len(d)
    target = max(abs(d.mean()), margin)
    return int(math.ceil((1.96 * d.std(ddof=1) / target) ** 2)) if target > 0 else len(d)


def describe(mean, low, high, n, unit=""):
    return f"{mean:+.3g}{unit} (95% CI {low:+.3g} to {high:+.3g}, n={n})"


CHANCE_ACCURACY = 0.1  # 10 classes


def per_seed(records, metric):
    """{seed: metric} of the runs in `records`. A run that did not finish `ok` (diverged,
    failed) scores chance accuracy for an accuracy metric and is left out (NaN) for a loss."""
    values = {}
    for record in records:
        value = (record.get("metrics") or {}).get(metric)
        if record.get("status") != "ok" or value is None or not math.isfinite(value):
            value = CHANCE_ACCURACY if metric.endswith("accuracy") else math.nan
        values[record["seed"]] = float(value)
    return values


def compare(claim, baseline, treatment, metric, higher_is_better, margin, names=("baseline", "treatment")):
    """The Finding for "treatment beats baseline on `metric`", on the seeds both have.

    The effect is signed so that > 0 is the claim's direction: treatment - baseline for an
    accuracy, baseline - treatment for a loss.
    """
    from experiments.findings import Finding

    a, b = per_seed(baseline, metric), per_seed(treatment, metric)
    seeds = sorted(s for s in set(a) & set(b) if math.isfinite(a[s]) and math.isfinite(b[s]))
    sign = 1.0 if higher_is_better else -1.0
    differences = [sign * (b[s] - a[s]) for s in seeds]
    mean, low, high = mean_interval(differences)
    result = verdict(low, high, margin)
    text = (
        f"Paired rule: {result}. Paired by seed, {metric} of {names[1]} against {names[0]}, signed so that > 0 favours the claim: "
        f"{describe(mean, low, high, len(seeds))}; margin ±{margin:g}. Means: {names[0]} "
        f"{np.mean([a[s] for s in seeds]):.4g}, {names[1]} {np.mean([b[s] for s in seeds]):.4g}."
    )
    if result == "inconclusive":
        text += f" About {seeds_to_settle(differences, margin)} seeds would settle it."
    dropped = len(set(a) | set(b)) - len(seeds)
    if dropped:
        text += f" {dropped} seed(s) without a finished run in both arms left out."
    return Finding(claim, _old_vocabulary(result), text), {"verdict": result, "effect": mean, "ci": [low, high], "n": len(seeds), "metric": metric}


def _old_vocabulary(result):
    # findings.VERDICTS predates "contradicted" and "no effect" (the evidence framework adds them).
    return {"contradicted": "not supported", "no effect": "not supported"}.get(result, result)
