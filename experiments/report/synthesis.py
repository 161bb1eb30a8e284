"""One answer per claim across data sets: the verdict on each, one synthesis line, and a pooled
effect with its heterogeneity where the metric is comparable (effects in units of the claim's
margin, so data sets with different loss scales still pool).

Pooling: DerSimonian & Laird (1986) random effects on the per-data-set effects y_i with standard
errors s_i = (high - low) / (2 * 1.96): w_i = 1 / s_i**2, Q = sum w_i (y_i - y_fixed)**2,
tau**2 = max(0, (Q - (k - 1)) / (sum w_i - sum w_i**2 / sum w_i)), I**2 = max(0, (Q - (k - 1)) / Q);
the pooled effect sum w*_i y_i / sum w*_i with w*_i = 1 / (s_i**2 + tau**2), 95% interval ± 1.96 / sqrt(sum w*_i).
"""

import math

DECIDED = ("supported", "contradicted", "no effect")


def synthesis_line(per_dataset):
    """'holds on all' / 'fails on all' / 'depends on the data' from {data set: verdict}."""
    verdicts = set(per_dataset.values())
    if verdicts == {"supported"}:
        return "holds on every data set"
    if verdicts <= {"contradicted", "no effect"} and verdicts:
        return "fails on every data set"
    decided = {d: v for d, v in per_dataset.items() if v in DECIDED}
    if len(set(decided.values())) > 1:
        return "depends on the data: " + ", ".join(f"{v} on {d}" for d, v in sorted(decided.items()))
    return "not decided on every data set: " + ", ".join(f"{v} on {d}" for d, v in sorted(per_dataset.items()))


def pooled(entries):
    """(effect, low, high, I**2) in margins over the entries (one per data set), or None when the
    metric is not comparable (no margin, a missing interval, or fewer than two data sets)."""
    rows = []
    for e in entries:
        low, high = e.get("ci") or [None, None]
        if not e.get("margin") or e.get("effect") is None or low is None or high is None or high <= low:
            return None
        rows.append((e["effect"] / e["margin"], (high - low) / e["margin"] / (2 * 1.96)))
    if len(rows) < 2:
        return None
    w = [1 / s**2 for _, s in rows]
    fixed = sum(wi * y for wi, (y, _) in zip(w, rows)) / sum(w)
    q = sum(wi * (y - fixed) ** 2 for wi, (y, _) in zip(w, rows))
    k = len(rows)
    tau2 = max(0.0, (q - (k - 1)) / (sum(w) - sum(wi * wi for wi in w) / sum(w)))
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    w_star = [1 / (s**2 + tau2) for _, s in rows]
    effect = sum(wi * y for wi, (y, _) in zip(w_star, rows)) / sum(w_star)
    half = 1.96 / math.sqrt(sum(w_star))
    return effect, effect - half, effect + half, i2
