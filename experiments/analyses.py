"""Answers to each experiment's question, computed from its results table.

Each function takes the experiment, its per-configuration summary and per-run table, and
returns Markdown. Verdicts follow the measurements: a difference smaller than the spread over
seeds is called inconclusive, whatever the notes expect.
"""

import math

import numpy as np


def _ms(row, metric, digits=4):
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if math.isnan(mean):
        return "—"
    return f"{mean:.{digits}g}" + ("" if math.isnan(std) else f" ± {std:.2g}")


def _ok(summary):
    return summary[summary.ok > 0]


def _separated(a, b, metric):
    """True when the means of rows a and b differ by more than their combined spread."""
    spread = np.nansum([a[f"{metric}_std"], b[f"{metric}_std"]])
    return abs(a[f"{metric}_mean"] - b[f"{metric}_mean"]) > spread


def best_configuration(experiment, summary, runs):
    ok = _ok(summary)
    if ok.empty:
        return "No configuration finished without diverging or failing."
    metric = experiment.metric
    ascending = not metric.endswith("accuracy")
    ranked = ok.sort_values(f"{metric}_mean", ascending=ascending)
    best = ranked.iloc[0]
    text = f"Best by final {metric}: **{best['group']}** ({_ms(best, metric)}, n={best['ok']})."
    if len(ranked) > 1:
        second = ranked.iloc[1]
        verdict = "clearly ahead" if _separated(best, second, metric) else "within the spread over seeds, so the ranking is inconclusive"
        text += f" Runner-up: {second['group']} ({_ms(second, metric)}): {verdict}."
    return text


def batch_size(experiment, summary, runs):
    ok = _ok(summary).copy()
    if ok.empty:
        return best_configuration(experiment, summary, runs)
    ok["bs"] = ok["effective_batch_size_mean"]
    ok = ok.sort_values("bs")
    small, large = ok.iloc[0], ok.iloc[-1]
    ratio = large["ms_per_update_mean"] / small["ms_per_update_mean"]
    lines = [
        f"- Time per update grows from {small['ms_per_update_mean']:.3g} ms at batch size "
        f"{small['bs']:.0f} to {large['ms_per_update_mean']:.3g} ms at {large['bs']:.0f} "
        f"({ratio:.2g}x for {large['bs'] / small['bs']:.0f}x the examples): "
        + ("each large-batch update is slower, as the notes say." if ratio > 1.2 else "on this machine the update time barely depends on the batch size."),
        f"- Updates per epoch fall from {small['updates_per_epoch_mean']:.0f} to {large['updates_per_epoch_mean']:.0f}, "
        f"samples per second go from {small['samples_per_second_mean']:.3g} to {large['samples_per_second_mean']:.3g}.",
    ]
    best = ok.sort_values("val_loss_mean").iloc[0]
    verdict = "supported" if best["bs"] < large["bs"] and _separated(best, large, "val_loss") else "not supported" if best["bs"] == large["bs"] else "inconclusive"
    lines.append(
        f"- After the same number of epochs at the same learning rate, the lowest validation loss is at "
        f"batch size {best['bs']:.0f} ({_ms(best, 'val_loss')}) vs {_ms(large, 'val_loss')} at {large['bs']:.0f}. "
        f"The notes' 'small batch: usually better performance' is **{verdict}** here, at equal epochs and "
        "an equal learning rate, which gives small batches many more updates; a fair comparison "
        "tunes the rate per batch size."
    )
    return "\n".join(lines)


def learning_rate(experiment, summary, runs):
    rows = summary.sort_values("group", key=lambda s: summary.loc[s.index, "learning_rate"].astype(float))
    lrs = rows["learning_rate"].astype(float).tolist()
    diverged = [lr for lr, (_, r) in zip(lrs, rows.iterrows()) if r["ok"] == 0]
    ok = rows[rows.ok > 0]
    lines = []
    if not ok.empty:
        best = ok.sort_values("val_loss_mean").iloc[0]
        smallest = ok.iloc[0]
        lines.append(
            f"- Best learning rate: {best['learning_rate']:.3g} (validation loss {_ms(best, 'val_loss')}). "
            f"The smallest, {smallest['learning_rate']:.3g}, ends at training loss {_ms(smallest, 'train_loss')} "
            f"vs {_ms(best, 'train_loss')}: "
            + ("too small stagnates." if smallest["train_loss_mean"] > 2 * best["train_loss_mean"] else "not clearly slower here.")
        )
    if diverged:
        lines.append(f"- Diverged (loss NaN or exploding) at learning rate >= {min(diverged):.3g}: too large explodes.")
        below = [lr for lr in lrs if lr < min(diverged)]
        if below:
            lines.append(f"- The stability boundary lies between {max(below):.3g} and {min(diverged):.3g}.")
    else:
        lines.append("- No learning rate in the range diverged: extend the range upwards to find the boundary.")
    return "\n".join(lines) or best_configuration(experiment, summary, runs)


def batch_norm(experiment, summary, runs):
    lines = []
    for flag in (False, True):
        part = summary[summary["batch_norm"] == flag]
        stable = part[(part.ok == part.n) & (part.ok > 0)]
        top = stable["learning_rate"].astype(float).max() if not stable.empty else math.nan
        best = part[part.ok > 0].sort_values("val_loss_mean").head(1)
        best_text = f"best validation loss {_ms(best.iloc[0], 'val_loss')} at lr {best.iloc[0]['learning_rate']:.3g}" if not best.empty else "no stable run"
        lines.append(f"- {'With' if flag else 'Without'} batch normalization: highest learning rate with every seed stable: {top:.3g}; {best_text}.")
    return "\n".join(lines)


def tuned_arms(experiment, summary, runs):
    final = runs[runs.stage == "final"]
    ok = _ok(summary[summary.group.isin(set(final.group))])
    if ok.empty:
        return best_configuration(experiment, summary, runs)
    lines = ["Each arm at its own best learning rate (tuned on seed 0 from the grid, then run on every seed):", ""]
    for _, row in ok.sort_values("val_loss_mean").iterrows():
        lines.append(f"- {row['group']}: validation loss {_ms(row, 'val_loss')}, accuracy {_ms(row, 'val_accuracy', 3)}")
    lines += ["", best_configuration(experiment, ok, runs)]
    return "\n".join(lines)


def random_search(experiment, summary, runs):
    trials = runs[runs.stage == "search"]
    finished = trials[trials.status == "ok"]
    lines = [f"- {len(trials)} random trials, {len(finished)} finished ok, {int((trials.status == 'diverged').sum())} diverged."]
    if not finished.empty:
        best = finished.sort_values("val_loss").iloc[0]
        settings = ", ".join(f"{k}={best[k]}" for k in experiment.varied_settings if k in best)
        lines.append(f"- Best trial: {best['group']} ({settings}), validation loss {best['val_loss']:.4g}.")
    lines.append("- " + best_configuration(experiment, summary[summary.group.isin(set(runs[runs.stage == 'final'].group))], runs))
    return "\n".join(lines)


ANALYSES = {
    "": best_configuration,
    "batch_size": batch_size,
    "learning_rate": learning_rate,
    "batch_norm": batch_norm,
    "tuned_arms": tuned_arms,
    "random_search": random_search,
}
