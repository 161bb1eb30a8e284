"""Tables, figures and the per-experiment report, from run records.

`runs.csv` has one row per run with its outcome (experiments/engine/outcomes.py); `results.csv` one row
per configuration with the mean and standard deviation over its seeds of the runs that learned
(`ok`; runs that did not learn, diverged or failed are counted, never averaged in), `curves.png`
overlays the learning curves (experiments/outputs/figures.py).
"""

import math
import os

import pandas as pd

from experiments.outputs import figures, files

METRIC_COLUMNS = (
    "val_loss", "val_accuracy", "train_loss", "train_accuracy", "best_val_accuracy",
    "ms_per_update", "updates_per_epoch", "samples_per_second", "effective_batch_size", "loss_increases",
)  # fmt: skip


def runs_table(records, varied):
    rows = []
    for record in records:
        row = {
            "run_id": record["run_id"],
            "group": record["group"],
            "configuration": record.get("configuration", ""),
            "stage": record.get("stage", ""),
            "seed": record.get("seed"),
        }
        row.update({name: _cell(record["config"].get(name)) for name in varied})
        row["status"] = record["status"]
        row["reason"] = record.get("reason", "")
        row.update({m: (record.get("metrics") or {}).get(m, math.nan) for m in METRIC_COLUMNS})
        row["wall_time_s"] = record.get("wall_time_s", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(value):
    return str(value) if isinstance(value, (list, dict)) else value


def summary_table(runs, varied):
    """One row per configuration: n runs, status counts, mean and std over the ok seeds."""
    rows = []
    for group, frame in runs.groupby("group", sort=False):
        ok = frame[frame.status == "ok"]
        row = {"group": group}
        row.update({name: frame[name].iloc[0] for name in varied})
        row.update(
            n=len(frame),
            ok=len(ok),
            did_not_learn=int((frame.status == "did_not_learn").sum()),
            diverged=int((frame.status == "diverged").sum()),
            failed=int((frame.status == "failed").sum()),
        )
        for metric in METRIC_COLUMNS:
            values = ok[metric].astype(float)
            row[f"{metric}_mean"] = values.mean() if len(values) else math.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def configuration_table(summary, varied, metrics=("val_loss", "val_accuracy", "train_loss")):
    """The compact table printed at the end and put in the report: mean ± std (n ok of n)."""
    rows = []
    for _, row in summary.iterrows():
        out = {"configuration": row["group"]}
        for metric in metrics:
            mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
            out[metric] = "—" if math.isnan(mean) else (f"{mean:.4g}" + ("" if math.isnan(std) else f" ± {std:.2g}"))
        out["runs ok"] = f"{row['ok']}/{row['n']}"
        out["did not learn"] = int(row["did_not_learn"])
        out["diverged"] = int(row["diverged"])
        out["failed"] = int(row["failed"])
        rows.append(out)
    return pd.DataFrame(rows).fillna("")


def write_experiment_outputs(experiment, records, exp_dir):
    varied = experiment.varied_settings
    runs = runs_table(records, varied)
    summary = summary_table(runs, varied)
    files.write_csv_atomic(os.path.join(exp_dir, "runs.csv"), runs)
    files.write_csv_atomic(os.path.join(exp_dir, "results.csv"), summary)
    final = [r for r in records if r.get("stage") == "final"] or records
    figures.plot_curves(final, os.path.join(exp_dir, figures.CURVES_FILE), f"{experiment.name}: {experiment.description}",
                        [curve_facets(experiment, record) for record in final])
    return runs, summary


def curve_facets(experiment, record):
    """What tells a run's configuration apart, for splitting the curves into small multiples:
    its arm (the label its group starts with) and the values of the settings the experiment varies."""
    labels = [arm["label"] for arm in experiment.arms if record["group"] == arm["label"] or record["group"].startswith(arm["label"] + "_")]
    facets = {"arm": max(labels, key=len)} if labels else {}
    facets.update({name: record["config"].get(name) for name in experiment.vary})
    return facets
