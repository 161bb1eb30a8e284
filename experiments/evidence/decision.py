"""The decision rule every verdict of the suite comes from, written down before any run.

A claim compares arms (or measures one quantity) on paired seeds: seed s gives every arm the
same initialization (same architecture, same seed) and the same data order (the pipeline
shuffles with the seed), so the per-seed difference removes most of the noise. `pair` asserts
that pairing. Given the n per-seed differences d (first arm minus second, in the claim's
metric):

1. The effect is their mean, with a 95% interval:
   - infinite below MIN_N = 3 pairs: two seeds that happen to agree exactly decide nothing
     (found when `--size quick`, 2 seeds, called claims the default size then reversed);
   - the t interval, mean ± t(0.975, n-1) · sd / sqrt(n), by default;
   - a BCa bootstrap interval (scipy.stats.bootstrap, 9999 resamples, fixed seed) when n >= 10 and
     a Shapiro-Wilk test rejects normality at 5% (skewed differences);
   - when n < 10 and the differences are far from normal (Shapiro-Wilk p < 0.05), the
     distribution-free interval of the median from the sign test's binomial order statistics
     (the effect is then the median): at n < 6 no such interval reaches 95%, and it is infinite;
   - when every difference is equal the interval is that single value ("no spread").
2. The verdict, with `margin` the claim's practical margin (in the metric's units):
   - `no effect`: the whole interval lies inside (-margin, +margin): evidence of absence, also
     when the interval excludes 0 (a real but practically negligible difference);
   - `supported`: otherwise, the interval excludes 0 in the claimed direction;
   - `contradicted`: it excludes 0 in the other direction;
   - `inconclusive`: otherwise; with `needed_n`, the number of seeds at which the same mean and
     spread would give a t interval that excludes 0 (or fits inside the margin);
   - `measured`: the claim names no direction (a quantity, not a test); effect and interval only;
   - `no information`: no pair has a usable value (every arm failed): not a verdict.
   For direction `within` (the effect should be about 0, e.g. a fitted slope minus its target),
   `supported` means the interval lies inside ± margin and `contradicted` that it lies wholly
   outside it.

Every tested verdict carries its effect, interval, n, the metric and the interval's method.
"""

import collections
import dataclasses
import math

import numpy as np
from scipy import stats

from experiments.evidence import proportions, sequential

CONFIDENCE = 0.95
DIRECTIONS = ("greater", "less", "within", None)
VERDICTS = ("supported", "contradicted", "no effect", "inconclusive", "measured", "no information")
MAX_NEEDED_N = 1000
BOOTSTRAP_MIN_N = 10
MIN_N = 3
BOOTSTRAP_RESAMPLES = 9999


@dataclasses.dataclass
class Effect:
    verdict: str
    effect: float  # mean (or median, method "sign") of the per-seed differences
    ci: tuple  # (low, high) at CONFIDENCE
    n: int
    method: str  # "t", "t (no spread)", "bootstrap", "sign", "none"
    needed_n: int = None  # inconclusive only: seeds that would settle it (None: more than MAX_NEEDED_N)

    def describe(self, digits=3):
        if self.n == 0:
            return "no usable pairs"
        low, high = self.ci
        text = f"{self.effect:+.{digits}g} [{low:+.{digits}g}, {high:+.{digits}g}] (n={self.n}, {self.method})"
        if self.verdict == "inconclusive":
            text += f"; about {self.needed_n} seeds would settle it" if self.needed_n else f"; more than {MAX_NEEDED_N} seeds would be needed"
        return text


def interval(differences, confidence=CONFIDENCE):
    """(effect, (low, high), method) of the per-seed differences, by the rule above."""
    d = np.asarray(differences, dtype=float)
    n = d.size
    if n == 0:
        return math.nan, (math.nan, math.nan), "none"
    if n < MIN_N:
        return float(d.mean()), (-math.inf, math.inf), f"fewer than {MIN_N} seeds"
    if np.all(d == d[0]):
        return float(d[0]), (float(d[0]), float(d[0])), "t (no spread)"
    normal = stats.shapiro(d).pvalue >= 0.05
    if normal:
        result = stats.ttest_1samp(d, 0.0).confidence_interval(confidence)
        return float(d.mean()), (float(result.low), float(result.high)), "t"
    if n >= BOOTSTRAP_MIN_N:
        result = stats.bootstrap(
            (d,), np.mean, confidence_level=confidence, n_resamples=BOOTSTRAP_RESAMPLES, method="BCa",
            random_state=np.random.default_rng(0),
        )
        return float(d.mean()), (float(result.confidence_interval.low), float(result.confidence_interval.high)), "bootstrap"
    return float(np.median(d)), median_interval(d, confidence), "sign"


def median_interval(differences, confidence=CONFIDENCE):
    """The sign test's interval for the median: (d_(k), d_(n+1-k)) for the largest k whose
    two-sided binomial tail 2 P(B <= k-1) stays <= 1 - confidence; infinite if none does."""
    d = np.sort(np.asarray(differences, dtype=float))
    n = d.size
    k = 0
    while k + 1 <= n // 2 and 2 * stats.binom.cdf(k, n, 0.5) <= 1 - confidence:
        k += 1
    if k == 0:
        return (-math.inf, math.inf)
    return (float(d[k - 1]), float(d[n - k]))


def needed_seeds(differences, margin, confidence=CONFIDENCE):
    """Seeds at which a t interval with this mean and spread would exclude 0 or fit inside
    ± margin; None when more than MAX_NEEDED_N."""
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        return MIN_N if d.size == 1 else None
    mean, sd = abs(float(d.mean())), float(d.std(ddof=1))
    if sd == 0:
        return max(MIN_N, d.size)
    targets = [t for t in (mean, margin - mean if margin and mean < margin else 0.0) if t > 0]
    for n in range(max(2, d.size), MAX_NEEDED_N + 1):
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
        if any(half < t for t in targets):
            return n
    return None


def decide(differences, direction, margin=0.0, confidence=CONFIDENCE):
    """The Effect and verdict for per-seed differences (first arm minus second)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}; got {direction!r}")
    d = np.asarray([x for x in differences if x is not None and math.isfinite(x)], dtype=float)
    if d.size == 0:
        return Effect("no information", math.nan, (math.nan, math.nan), 0, "none")
    effect, (low, high), method = interval(d, confidence)
    verdict = verdict_of_interval(low, high, direction, margin)
    needed = needed_seeds(d, margin, confidence) if verdict == "inconclusive" else None
    return Effect(verdict, effect, (low, high), int(d.size), method, needed)


def verdict_of_interval(low, high, direction, margin=0.0):
    """The verdict of an interval (low, high) under the rule above."""
    margin = margin or 0.0
    if direction is None:
        return "measured"
    if direction == "within":
        if -margin < low and high < margin:
            return "supported"
        return "contradicted" if low >= margin or high <= -margin else "inconclusive"
    if margin > 0 and -margin < low and high < margin:
        return "no effect"
    if low > 0 or high < 0:
        return "supported" if (low > 0) == (direction == "greater") else "contradicted"
    return "inconclusive"


# -- Which test applies: the kind of per-seed value -----------------------------------------------

CONTINUOUS, OUTCOMES, PAIRED_OUTCOMES = "continuous", "outcomes", "paired outcomes"


def value_kind(values):
    """OUTCOMES: every value 0 or 1 (one arm's yes/no per seed); PAIRED_OUTCOMES: every value a
    (first, second) pair of 0/1 (two arms' yes/no on the same seed); else CONTINUOUS."""
    values = list(values)
    if values and all(isinstance(v, (tuple, list)) and len(v) == 2 and set(v) <= {0, 1} for v in values):
        return PAIRED_OUTCOMES
    return CONTINUOUS


def fixed_interval(values, kind, confidence=CONFIDENCE, target=0.0):
    """(effect, (low, high), method) at one look: the t / bootstrap / sign rule for continuous
    values; Wilson's score interval for a proportion (minus `target`); the exact conditional
    (McNemar) interval for a difference of proportions (experiments.evidence.proportions)."""
    if kind == PAIRED_OUTCOMES:
        effect, (low, high) = proportions.paired_difference_interval(values, confidence)
        return effect, (low, high), "exact conditional (McNemar) paired"
    if kind == OUTCOMES:
        successes = int(round(sum(v + target for v in values)))
        low, high = proportions.wilson_interval(successes, len(values), confidence)
        return successes / len(values) - target, (low - target, high - target), "Wilson score"
    return interval(values, confidence)


def decide_looks(values, direction, margin, looks, kind=CONTINUOUS, target=0.0, t_opt=None, sequential_rule=None):
    """The Effect after the `looks` (increasing numbers of values; `values` holds the last
    look's): the first look by the fixed-n rule at 1 - SPLIT * (1 - CONFIDENCE), the later ones
    by a confidence sequence at the rest (experiments.evidence.sequential). Without more looks to
    come (`sequential_rule` False; None: more than one look) it is the fixed-n rule at CONFIDENCE."""
    values = [v for v in values if isinstance(v, (tuple, list)) or (v is not None and math.isfinite(v))]
    looks = [min(look, len(values)) for look in looks if look > 0] or [len(values)]
    if not values:
        return Effect("no information", math.nan, (math.nan, math.nan), 0, "none")
    if not (len(looks) > 1 if sequential_rule is None else sequential_rule):
        effect, (low, high), method = fixed_interval(values, kind, CONFIDENCE, target)
    else:
        first_alpha = sequential.SPLIT * (1 - CONFIDENCE)
        effect, (low, high), method = fixed_interval(values[: looks[0]], kind, 1 - first_alpha, target)
        if len(looks) > 1 and verdict_of_interval(low, high, direction, margin) == "inconclusive":
            effect, (low, high), method = _sequence_interval(values, looks, kind, target, t_opt, first_alpha)
        else:
            method += f" at the first look, {100 * (1 - first_alpha):g}%"
    verdict = verdict_of_interval(low, high, direction, margin)
    needed = None
    if verdict == "inconclusive":
        if kind == CONTINUOUS:
            needed = needed_seeds(values, margin)
        else:
            needed = needed_outcomes(values, kind, direction, margin, target)
    return Effect(verdict, effect, (low, high), len(values), method, needed)


def needed_outcomes(values, kind, direction, margin, target=0.0):
    """For yes/no outcomes: the seeds at which the same proportions (each count scaled up) would
    give a decided verdict by this kind's fixed-n interval; None when more than MAX_NEEDED_N.
    Found by doubling, then bisection (each look costs an exact interval's root finding)."""
    counts = collections.Counter(tuple(v) if kind == PAIRED_OUTCOMES else v for v in values)
    n = len(values)

    def grown(scaled):
        return [v for v, count in counts.items() for _ in range(round(count * scaled / n))]

    def decided(scaled):
        _, (low, high), _ = fixed_interval(grown(scaled), kind, CONFIDENCE, target)
        return verdict_of_interval(low, high, direction, margin) != "inconclusive"

    low, high = n, n + 1
    while not decided(high):
        if high >= MAX_NEEDED_N:
            return None
        low, high = high, min(2 * high, MAX_NEEDED_N)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if decided(middle) else (middle, high)
    return len(grown(high))


def _sequence_interval(values, looks, kind, target, t_opt, spent):
    alpha = (1 - CONFIDENCE) - spent
    later = looks[1:]
    if kind == PAIRED_OUTCOMES:
        x = np.asarray([a - b for a, b in values], dtype=float)
        low, high = sequential.interval_over_looks(x, later, alpha, bounds=(-1.0, 1.0))
        return float(x.mean()), (low, high), "confidence sequence (bounded)"
    x = np.asarray(values, dtype=float)
    if kind == OUTCOMES:
        low, high = sequential.interval_over_looks(x + target, later, alpha, bounds=(0.0, 1.0))
        return float(x.mean()), (low - target, high - target), "confidence sequence (bounded)"
    low, high = sequential.interval_over_looks(x, later, alpha, t_opt=t_opt)
    return float(x.mean()), (low, high), "confidence sequence (asymptotic)"
