"""Intervals for yes/no outcomes (escaped, diverged, learned): the score intervals, not a median.

- One arm's proportion x/n: Wilson's score interval (Wilson 1927; Newcombe 1998a, method 3):
      centre = (x + z**2 / 2) / (n + z**2)
      half   = z / (n + z**2) * sqrt(x * (n - x) / n + z**2 / 4)
- Two arms on the same seeds (paired yes/no): the difference of proportions p1 - p2, with
  Newcombe's hybrid score interval for paired data (Newcombe 1998b, "Improved confidence
  intervals for the difference between binomial proportions based on paired data", Stat. Med.
  17:2635-2650, method 10). With a = both yes, b = first only, c = second only, d = neither:
      p1 = (a + b) / n, p2 = (a + c) / n, (l1, u1), (l2, u2) their Wilson intervals,
      phi = (a*d - b*c) / sqrt((a+b)(c+d)(a+c)(b+d))   (0 when a margin is empty)
      low  = p1 - p2 - sqrt((p1-l1)**2 - 2*phi*(p1-l1)*(u2-p2) + (u2-p2)**2)
      high = p1 - p2 + sqrt((u1-p1)**2 - 2*phi*(u1-p1)*(p2-l2) + (p2-l2)**2)
  McNemar's test rejects "no difference" exactly when b and c are unbalanced; the interval says
  by how much, in the units the claim's margin is written in.
"""

import math

from scipy import stats


def z_value(confidence):
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes, n, confidence):
    """Wilson's score interval (low, high) for a proportion successes / n."""
    if n == 0:
        return (0.0, 1.0)
    z = z_value(confidence)
    centre = (successes + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(successes * (n - successes) / n + z * z / 4)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_counts(pairs):
    """(a, b, c, d): both yes, first only, second only, neither, of (first, second) 0/1 pairs."""
    a = sum(1 for x, y in pairs if x and y)
    b = sum(1 for x, y in pairs if x and not y)
    c = sum(1 for x, y in pairs if y and not x)
    return a, b, c, len(pairs) - a - b - c


def paired_difference_interval(pairs, confidence):
    """(p1 - p2, (low, high)) by Newcombe's method 10 for (first, second) 0/1 pairs."""
    a, b, c, d = paired_counts(pairs)
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, confidence)
    l2, u2 = wilson_interval(a + c, n, confidence)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denominator) if denominator else 0.0
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    epsilon = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return p1 - p2, (p1 - p2 - delta, p1 - p2 + epsilon)
