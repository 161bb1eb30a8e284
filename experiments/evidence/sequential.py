"""Confidence sequences: intervals that stay valid however often one looks (anytime-valid).

A claim not decided after its experiment's seeds gets more seeds, in batches, and is looked at
again after each batch. Looking again at a fixed-n interval is optional stopping: with a look
after every batch the t interval's false-verdict rate grows far past 5%
(tests/test_sequential.py measures it). The rule therefore spends the 5% in two halves:

- the first look, at the experiment's planned seeds, uses the fixed-n interval of
  experiments.evidence.decision at 97.5% (the pre-registered analysis, nearly as tight as before);
- every later look uses a confidence sequence at 97.5%, valid simultaneously over all looks
  (the running intersection of the sequence over the looks is taken).
By the union bound, all intervals a claim ever shows cover the true effect with probability
>= 95%, however many batches it takes, so the false-verdict rate stays <= 5%.

The sequences (no maintained library installs here: confseq 0.0.11 needs Boost and a C++ build):
- `asymptotic_cs`: Waudby-Smith, Arnold, Wu, Wang & Ramdas (2024), "Time-uniform central limit
  theory and asymptotic confidence sequences", Ann. Statist., Theorem 2.2 (two-sided):
      mean_t ± sd_t * sqrt(2 (t rho**2 + 1) / (t**2 rho**2) * log(sqrt(t rho**2 + 1) / alpha)),
  rho chosen to make the width smallest at t_opt (their eq. after Thm 2.2, from Howard et al.
  2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.):
      rho**2 = (-2 log alpha + log(-2 log alpha + 1)) / t_opt.
- `bounded_cs`: values in [0, 1] (yes/no outcomes; their paired differences mapped by (d+1)/2):
  the predictable plug-in empirical-Bernstein sequence of Waudby-Smith & Ramdas (2023),
  "Estimating means of bounded random variables by betting", JRSSB, Theorem 2:
      mu_hat_i = (1/2 + sum_{j<=i} x_j) / (i + 1),  var_hat_i = (1/4 + sum_{j<=i} (x_j - mu_hat_j)**2) / (i + 1)
      lambda_i = min(sqrt(2 log(2/alpha) / (var_hat_{i-1} i log(1 + i))), 1/2)
      centre_t = sum lambda_i x_i / sum lambda_i
      half_t   = (log(2/alpha) + sum 4 (x_i - mu_hat_{i-1})**2 psi(lambda_i)) / sum lambda_i,
      psi(l) = (-log(1 - l) - l) / 4.
"""

import math

import numpy as np

SPLIT = 0.5  # the share of 1 - confidence the first (fixed-n) look spends; the sequence gets the rest


def rho_squared(t_opt, alpha):
    return (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / t_opt


def asymptotic_cs(values, alpha, t_opt):
    """(centres, lows, highs) at every t = 1..n of Waudby-Smith et al.'s asymptotic CS."""
    x = np.asarray(values, dtype=float)
    t = np.arange(1, x.size + 1)
    means = np.cumsum(x) / t
    squares = np.cumsum(x * x) / t
    sds = np.sqrt(np.maximum(squares - means**2, 0.0) * t / np.maximum(t - 1, 1))
    rho2 = rho_squared(t_opt, alpha)
    half = sds * np.sqrt(2 * (t * rho2 + 1) / (t**2 * rho2) * np.log(np.sqrt(t * rho2 + 1) / alpha))
    half[t < 2] = math.inf
    return means, means - half, means + half


def bounded_cs(values, alpha):
    """(centres, lows, highs) at every t of the predictable plug-in empirical-Bernstein CS for
    values in [0, 1] (Waudby-Smith & Ramdas 2023, Theorem 2)."""
    x = np.asarray(values, dtype=float)
    t = np.arange(1, x.size + 1)
    mu_hat = (0.5 + np.cumsum(x)) / (t + 1)
    var_hat = (0.25 + np.cumsum((x - mu_hat) ** 2)) / (t + 1)
    var_before = np.append(0.25, var_hat[:-1])
    mu_before = np.append(0.5, mu_hat[:-1])
    log_term = math.log(2 / alpha)
    lambdas = np.minimum(np.sqrt(2 * log_term / (var_before * t * np.log(1 + t))), 0.5)
    psi = (-np.log(1 - lambdas) - lambdas) / 4
    weights = np.cumsum(lambdas)
    centres = np.cumsum(lambdas * x) / weights
    half = (log_term + np.cumsum(4 * (x - mu_before) ** 2 * psi)) / weights
    return centres, np.maximum(centres - half, 0.0), np.minimum(centres + half, 1.0)


def interval_over_looks(values, looks, alpha, bounds=None, t_opt=None):
    """The running intersection, over the looks (numbers of values seen), of the confidence
    sequence at level alpha: (low, high) at the last look. `bounds` (low, high): the values'
    known range, for the bounded sequence; None: the asymptotic one."""
    x = np.asarray(values, dtype=float)
    if bounds is not None:
        span = bounds[1] - bounds[0]
        _, lows, highs = bounded_cs((x - bounds[0]) / span, alpha)
        lows, highs = bounds[0] + span * lows, bounds[0] + span * highs
    else:
        _, lows, highs = asymptotic_cs(x, alpha, t_opt or max(looks))
    low, high = -math.inf, math.inf
    for look in looks:
        low, high = max(low, float(lows[look - 1])), min(high, float(highs[look - 1]))
    if high < low:  # the looks disagree beyond chance: report the point where they meet
        low = high = (low + high) / 2
    return low, high
