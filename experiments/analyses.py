"""Answers to each experiment's question, computed from its results table.

Each function takes the experiment, its per-configuration summary and per-run table, and
returns a list of `Finding`s. Verdicts follow the measurements: a difference smaller than the
spread over seeds is called inconclusive, whatever the notes expect.
"""

import math

import numpy as np

from experiments.findings import Finding, verdict_from


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
    claim = f"Best configuration by final {experiment.metric}"
    if ok.empty:
        return [Finding(claim, "measured", "No configuration finished without diverging or failing.")]
    metric = experiment.metric
    ascending = not metric.endswith("accuracy")
    ranked = ok.sort_values(f"{metric}_mean", ascending=ascending)
    best = ranked.iloc[0]
    text = f"**{best['group']}** ({_ms(best, metric)}, n={best['ok']})."
    if len(ranked) > 1:
        second = ranked.iloc[1]
        ahead = _separated(best, second, metric)
        text += f" Runner-up: {second['group']} ({_ms(second, metric)}): " + (
            "clearly behind." if ahead else "within the spread over seeds, so the ranking of the two is inconclusive."
        )
    return [Finding(claim, "measured", text)]


def batch_size(experiment, summary, runs):
    ok = _ok(summary).copy()
    if ok.empty:
        return best_configuration(experiment, summary, runs)
    ok["bs"] = ok["effective_batch_size_mean"]
    ok = ok.sort_values("bs")
    small, large = ok.iloc[0], ok.iloc[-1]
    ratio = large["ms_per_update_mean"] / small["ms_per_update_mean"]
    timing = Finding(
        "Each update takes longer with a large batch than with a small one",
        verdict_from(ratio > 1, abs(ratio - 1) > 0.2),
        f"{small['ms_per_update_mean']:.3g} ms per update at batch size {small['bs']:.0f}, "
        f"{large['ms_per_update_mean']:.3g} ms at {large['bs']:.0f} ({ratio:.2g}x for "
        f"{large['bs'] / small['bs']:.0f}x the examples). Updates per epoch fall from "
        f"{small['updates_per_epoch_mean']:.0f} to {large['updates_per_epoch_mean']:.0f}; samples per second go "
        f"from {small['samples_per_second_mean']:.3g} to {large['samples_per_second_mean']:.3g}.",
    )
    best = ok.sort_values("val_loss_mean").iloc[0]
    performance = Finding(
        "Small batches usually give better performance than large ones",
        verdict_from(best["bs"] < large["bs"], best["bs"] != large["bs"] and _separated(best, large, "val_loss")),
        f"After the same number of epochs at the same learning rate, the lowest validation loss is at batch size "
        f"{best['bs']:.0f} ({_ms(best, 'val_loss')}) against {_ms(large, 'val_loss')} at {large['bs']:.0f} "
        f"(n={best['ok']}). Equal epochs and an equal learning rate give small batches many more updates; "
        "a fair comparison tunes the rate per batch size.",
    )
    return [timing, performance]


def learning_rate(experiment, summary, runs):
    rows = summary.assign(lr=summary["learning_rate"].astype(float)).sort_values("lr")
    ok = rows[rows.ok > 0]
    diverged = rows[rows.ok == 0].lr.tolist()
    findings = []
    if not ok.empty:
        best = ok.sort_values("val_loss_mean").iloc[0]
        smallest = ok.iloc[0]
        stagnates = smallest["train_loss_mean"] > 2 * best["train_loss_mean"]
        findings.append(Finding(
            "A learning rate that is too small stagnates",
            verdict_from(stagnates, smallest.lr < best.lr),
            f"At {smallest.lr:.3g} the training loss ends at {_ms(smallest, 'train_loss')}, against "
            f"{_ms(best, 'train_loss')} at the best rate {best.lr:.3g} (validation loss {_ms(best, 'val_loss')}).",
        ))
    if diverged:
        below = [lr for lr in rows.lr if lr < min(diverged)]
        boundary = f" The boundary lies between {max(below):.3g} and {min(diverged):.3g}." if below else ""
        findings.append(Finding(
            "A learning rate that is too large makes the loss explode",
            "supported",
            f"Every seed diverged (loss NaN or past the divergence factor) at learning rate >= {min(diverged):.3g}.{boundary}",
        ))
    else:
        findings.append(Finding(
            "A learning rate that is too large makes the loss explode",
            "inconclusive",
            "No learning rate in the range diverged: extend the range upwards to find the boundary.",
        ))
    return findings


def batch_norm(experiment, summary, runs):
    top, best = {}, {}
    for flag in (False, True):
        part = summary[summary["batch_norm"] == flag]
        stable = part[(part.ok == part.n) & (part.ok > 0)]
        top[flag] = stable["learning_rate"].astype(float).max() if not stable.empty else math.nan
        finished = part[part.ok > 0].sort_values("val_loss_mean")
        best[flag] = finished.iloc[0] if not finished.empty else None
    evidence = (
        f"Highest learning rate at which every seed stays stable: {top[False]:.3g} without, {top[True]:.3g} with "
        "batch normalization."
    )
    higher = Finding(
        "Batch normalization allows higher learning rates",
        verdict_from(top[True] > top[False], top[True] != top[False]),
        evidence,
    )
    if best[False] is None or best[True] is None:
        return [higher]
    a, b = best[True], best[False]
    easier = Finding(
        "Batch normalization makes the error surface easier to optimize (lower loss, each at its best rate)",
        verdict_from(a["val_loss_mean"] < b["val_loss_mean"], _separated(a, b, "val_loss")),
        f"Best validation loss {_ms(a, 'val_loss')} with (lr {a['learning_rate']:.3g}) against "
        f"{_ms(b, 'val_loss')} without (lr {b['learning_rate']:.3g}).",
    )
    return [higher, easier]


def tuned_arms(experiment, summary, runs):
    final = summary[summary.group.isin(set(runs[runs.stage == "final"].group))]
    ok = _ok(final)
    if ok.empty:
        return best_configuration(experiment, summary, runs)
    lines = [
        f"{row['group']}: validation loss {_ms(row, 'val_loss')}, accuracy {_ms(row, 'val_accuracy', 3)}"
        for _, row in ok.sort_values("val_loss_mean").iterrows()
    ]
    ranking = Finding(
        "Each arm at its own best learning rate (tuned on seed 0, then run on every seed)",
        "measured",
        "; ".join(lines) + ".",
    )
    return [ranking, *best_configuration(experiment, ok, runs)]


def random_search(experiment, summary, runs):
    trials = runs[runs.stage == "search"]
    finished = trials[trials.status == "ok"]
    text = f"{len(trials)} random trials, {len(finished)} finished ok, {int((trials.status == 'diverged').sum())} diverged."
    if not finished.empty:
        best = finished.sort_values("val_loss").iloc[0]
        settings = ", ".join(f"{k}={best[k]}" for k in experiment.varied_settings if k in best)
        text += f" Best trial: {best['group']} ({settings}), validation loss {best['val_loss']:.4g}."
    search = Finding("Random search over learning rate, momentum, batch size and width", "measured", text)
    final = summary[summary.group.isin(set(runs[runs.stage == "final"].group))]
    return [search, *best_configuration(experiment, final, runs)]


ANALYSES = {
    "": best_configuration,
    "batch_size": batch_size,
    "learning_rate": learning_rate,
    "batch_norm": batch_norm,
    "tuned_arms": tuned_arms,
    "random_search": random_search,
}
