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
