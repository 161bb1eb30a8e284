"""The numbers behind an experiment's headline figure (experiments/config/headlines.py), from its
runs' records: one row per seed (and configuration), so the figure shows every seed and a
reader can check each dot against runs.csv.

Only runs whose outcome is `ok` count as a success: a run that diverged or did not learn is
never the best value nor the highest stable one, and a metric plot marks it instead of
averaging it in.
"""

import math

import numpy as np
import pandas as pd

from experiments.config import headlines


def arm_of(group, labels):
    """The [[arms]] label a run's group starts with (the longest, as the planner names groups)."""
    matching = [label for label in labels if group == label or group.startswith(f"{label}_")]
    return max(matching, key=len, default="")


def metric_value(record, metric, at_epoch=None):
    """The record's `metric` at the end, or after epoch `at_epoch` (NaN where it has none)."""
    if at_epoch is None:
        value = (record.get("metrics") or {}).get(metric)
    else:
        history = (record.get("history") or {}).get(headlines.HISTORY_KEYS[metric], [])
        value = history[at_epoch - 1] if len(history) >= at_epoch else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def runs_frame(records, experiment):
    """One row per run: seed, group, status, arm, each varied setting, and `value` (the metric the
    headline reads)."""
    headline = experiment.headline
    labels = [arm["label"] for arm in experiment.arms]
    rows = []
    for record in records:
        row = {"seed": record.get("seed"), "group": record["group"], "status": record["status"],
               headlines.ARM: arm_of(record["group"], labels)}  # fmt: skip
        row.update({name: record["config"].get(name) for name in experiment.varied_settings})
        row["value"] = metric_value(record, headline.metric, headline.at_epoch)
        rows.append(row)
    return pd.DataFrame(rows, columns=["seed", "group", "status", headlines.ARM, *experiment.varied_settings, "value"])


def best_value(records, experiment):
    """Per seed and value of x, the value of y whose run is ok with the best metric: columns
    x, seed, y (pairs with no run ok are left out)."""
    h = experiment.headline
    runs = runs_frame(records, experiment)
    ok = runs[(runs.status == "ok") & runs.value.notna()]
    sign = -1.0 if h.higher_is_better else 1.0
    rows = []
    for (x, seed), frame in ok.groupby([h.x, "seed"], sort=True):
        best = frame.loc[(sign * frame.value).idxmin()]
        rows.append({h.x: x, "seed": seed, h.y: best[h.y]})
    return pd.DataFrame(rows, columns=[h.x, "seed", h.y])


def highest_stable(records, experiment):
    """Per value of x and seed, the highest y among its runs that are ok (NaN where none is):
    columns x, seed, y."""
    h = experiment.headline
    runs = runs_frame(records, experiment)
    rows = []
    for (x, seed), frame in runs.groupby([h.x, "seed"], sort=True):
        ok = frame[frame.status == "ok"][h.y]
        rows.append({h.x: x, "seed": seed, h.y: float(ok.max()) if len(ok) else math.nan})
    return pd.DataFrame(rows, columns=[h.x, "seed", h.y])


def metric_against(records, experiment):
    """Every run's metric against x (and `by`): columns [by,] x, seed, value, status (a figure
    averages the runs that are ok only, and marks the others)."""
    h = experiment.headline
    runs = runs_frame(records, experiment)
    columns = [c for c in (h.by, h.x) if c] + ["seed", "value", "status"]
    return runs[columns].sort_values([c for c in (h.by, h.x, "seed") if c]).reset_index(drop=True)


def per_arm(records, experiment):
    """Each value of x (an arm or a setting) at its best configuration: the group with the most
    runs ok, then the best mean metric over them. Columns x, group, seed, value, status."""
    h = experiment.headline
    runs = runs_frame(records, experiment)
    runs.loc[runs.status != "ok", "value"] = math.nan
    sign = -1.0 if h.higher_is_better else 1.0
    chosen = []
    for _, frame in runs.groupby(h.x, sort=False):
        scores = frame.groupby("group", sort=False).value.agg(["count", "mean"])
        best = min(scores.index, key=lambda g: (-scores.at[g, "count"], _score(sign * scores.at[g, "mean"])))
        chosen.append(frame[frame.group == best])
    if not chosen:
        return pd.DataFrame(columns=[h.x, "group", "seed", "value", "status"])
    order = [arm["label"] for arm in experiment.arms] if h.x == headlines.ARM else None
    frame = pd.concat(chosen)[[h.x, "group", "seed", "value", "status"]]
    key = (lambda column: column.map(order.index)) if order else None
    frame = frame.sort_values("seed", kind="stable").sort_values(h.x, key=key, kind="stable")
    return frame.reset_index(drop=True)


def _score(value):
    return math.inf if math.isnan(value) else value


COMPUTE = {"best_value": best_value, "metric_against": metric_against,
           "highest_stable": highest_stable, "per_arm": per_arm}  # fmt: skip


def headline_data(records, experiment):
    """The rows the experiment's headline figure draws (empty without a declaration)."""
    if experiment.headline is None:
        return pd.DataFrame()
    return COMPUTE[experiment.headline.plot](records, experiment)


def log_slope(xs, ys):
    """The least-squares slope of log y on log x (NaN with fewer than two distinct x)."""
    xs, ys = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    if len(set(xs)) < 2:
        return math.nan
    return float(np.polyfit(xs, ys, 1)[0])
