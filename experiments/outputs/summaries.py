"""Summary statistics the experiments print, in one place (the verdicts' statistics are in
experiments/evidence/decision.py)."""

import math

import numpy as np


def std(values):
    """Sample standard deviation (ddof=1); NaN for fewer than two values."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def mean(values):
    """Mean of the values that are not None; NaN when there are none."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else math.nan


def mean_std_text(values, digits=3):
    """'mean ± std (n=..)' of the finite values, 'none' when there are none."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "none"
    text = f"{np.mean(values):.{digits}g}"
    if len(values) > 1:
        text += f" ± {np.std(values, ddof=1):.2g}"
    return text + f" (n={len(values)})"
