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


def best_configuration(experiment, summary, runs, records):
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


def batch_size(experiment, summary, runs, records):
    ok = _ok(summary).copy()
    if ok.empty:
        return best_configuration(experiment, summary, runs, records)
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


def learning_rate(experiment, summary, runs, records):
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
    unstable = ok[(ok.loss_increases_mean >= 1) & (ok.lr > ok.sort_values("val_loss_mean").iloc[0].lr)] if not ok.empty else ok
    if not unstable.empty:
        row = unstable.iloc[0]
        findings.append(Finding(
            "Above the best rate, the loss oscillates before it explodes",
            "supported",
            f"At {row.lr:.3g} the training loss rose from one epoch to the next {row.loss_increases_mean:.1f} times on "
            f"average (n={row.ok}) without diverging; at the best rate it never rose more than "
            f"{ok.sort_values('val_loss_mean').iloc[0].loss_increases_mean:.1f} times.",
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


def batch_norm(experiment, summary, runs, records):
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


def tuned_arms(experiment, summary, runs, records):
    final = summary[summary.group.isin(set(runs[runs.stage == "final"].group))]
    ok = _ok(final)
    if ok.empty:
        return best_configuration(experiment, summary, runs, records)
    lines = [
        f"{row['group']}: validation loss {_ms(row, 'val_loss')}, accuracy {_ms(row, 'val_accuracy', 3)}"
        for _, row in ok.sort_values("val_loss_mean").iterrows()
    ]
    ranking = Finding(
        "Each arm at its own best learning rate (tuned on seed 0, then run on every seed)",
        "measured",
        "; ".join(lines) + ".",
    )
    return [ranking, *best_configuration(experiment, ok, runs, records)]


def random_search(experiment, summary, runs, records):
    trials = runs[runs.stage == "search"]
    finished = trials[trials.status == "ok"]
    text = f"{len(trials)} random trials, {len(finished)} finished ok, {int((trials.status == 'diverged').sum())} diverged."
    if not finished.empty:
        best = finished.sort_values("val_loss").iloc[0]
        settings = ", ".join(f"{k}={best[k]}" for k in experiment.varied_settings if k in best)
        text += f" Best trial: {best['group']} ({settings}), validation loss {best['val_loss']:.4g}."
    search = Finding("Random search over learning rate, momentum, batch size and width", "measured", text)
    final = summary[summary.group.isin(set(runs[runs.stage == "final"].group))]
    return [search, *best_configuration(experiment, final, runs, records)]


def _best_per(summary, key, metric="val_loss"):
    """For each value of `key`, the row with the lowest mean `metric` among finished configurations."""
    ok = _ok(summary)
    return {value: part.sort_values(f"{metric}_mean").iloc[0] for value, part in ok.groupby(key)}


def _highest_stable_rate(summary, key):
    """For each value of `key`: the highest learning rate at which every seed finished ok
    without the training loss rising between epochs (no oscillation)."""
    result = {}
    for value, part in summary.groupby(key):
        stable = part[(part.ok == part.n) & (part.loss_increases_mean == 0)]
        result[value] = stable["learning_rate"].astype(float).max() if not stable.empty else math.nan
    return result


def input_normalization(experiment, summary, runs, records):
    best = _best_per(summary, "input_scaling")
    stable = _highest_stable_rate(summary, "input_scaling")
    if "standardize" not in best or "raw" not in best:
        return best_configuration(experiment, summary, runs, records)
    norm, others = best["standardize"], {k: v for k, v in best.items() if k != "standardize"}
    described = "; ".join(
        f"{k}: {_ms(v, 'val_loss')} at lr {float(v['learning_rate']):.3g}" for k, v in best.items()
    )
    faster = all(norm["val_loss_mean"] < v["val_loss_mean"] for v in others.values())
    separated = all(_separated(norm, v, "val_loss") for v in others.values())
    speed = Finding(
        "Normalized inputs speed up training (lower loss after the same epochs, each at its best rate)",
        verdict_from(faster, separated),
        f"Best validation loss per input scaling: {described}.",
    )
    rates = "; ".join(f"{k}: {v:.3g}" for k, v in stable.items())
    smaller = all(stable["standardize"] > v for k, v in stable.items() if k != "standardize")
    scale = Finding(
        "Unnormalized feature scales force a smaller learning rate",
        verdict_from(smaller, len(set(stable.values())) > 1),
        f"Highest learning rate with every seed stable and no epoch-to-epoch loss increase: {rates}.",
    )
    return [speed, scale]


def batch_size_lr(experiment, summary, runs, records):
    summary = summary.assign(bs=summary["effective_batch_size_mean"])
    best = _best_per(summary.dropna(subset=["bs"]), "bs")
    if len(best) < 2:
        return best_configuration(experiment, summary, runs, records)
    sizes = sorted(best)
    rates = [float(best[b]["learning_rate"]) for b in sizes]
    slope = float(np.polyfit(np.log(sizes), np.log(rates), 1)[0])
    listing = "; ".join(f"batch {b:.0f}: lr {r:.3g} ({_ms(best[b], 'val_loss')})" for b, r in zip(sizes, rates))
    grows = Finding(
        "Smaller batches (noisier gradients) want a smaller learning rate",
        verdict_from(slope > 0, rates[0] != rates[-1]),
        f"Best learning rate per batch size: {listing}.",
    )
    linear = Finding(
        "The best learning rate scales linearly with the batch size",
        "supported" if 0.7 <= slope <= 1.3 else "not supported" if slope < 0.4 or slope > 1.6 else "inconclusive",
        f"Fitted exponent of best rate against batch size (log-log): {slope:.2f}; linear scaling means 1, "
        "square-root scaling 0.5. The grid's spacing limits the resolution.",
    )
    return [grows, linear]


def restarts(experiment, summary, runs, records):
    ok = runs[runs.status == "ok"]
    if len(ok) < 2:
        return best_configuration(experiment, summary, runs, records)
    losses = ok.val_loss.astype(float)
    # Local minima are a statement about the training objective: judge them on the training loss.
    train = ok.train_loss.astype(float)
    spread = train.std(ddof=1) / train.mean()
    measured = Finding(
        "Spread of the final validation loss over random initializations",
        "measured",
        f"n={len(ok)}: mean {losses.mean():.4g}, std {losses.std(ddof=1):.2g}, min {losses.min():.4g}, "
        f"max {losses.max():.4g}. Keeping the best of {len(ok)} gives {losses.min():.4g}, "
        f"{100 * (1 - losses.min() / losses.mean()):.1f}% below the average run.",
    )
    rare = Finding(
        "With many parameters, bad local minima are rare: different starts end about equally well",
        "supported" if spread < 0.1 else "not supported" if spread > 0.25 else "inconclusive",
        f"Coefficient of variation of the final training loss: {spread:.1%} over {len(ok)} initializations "
        f"(mean {train.mean():.4g}, min {train.min():.4g}, max {train.max():.4g}); under 10% counts as about equal.",
    )
    return [measured, rare]


def bias_correction(experiment, summary, runs, records):
    early = {}
    for record in records:
        steps = record.get("early_steps")
        if record.get("status") == "ok" and steps:
            key = (record["config"]["bias_correction"], record["config"]["learning_rate"])
            early.setdefault(key, []).append(np.mean(steps["loss"][:20]))
    findings = []
    for lr in sorted({lr for _, lr in early}):
        on, off = early.get((True, lr), []), early.get((False, lr), [])
        if not on or not off:
            continue
        faster = np.mean(on) < np.mean(off)
        separated = abs(np.mean(on) - np.mean(off)) > (np.std(on, ddof=1) if len(on) > 1 else 0) + (np.std(off, ddof=1) if len(off) > 1 else 0)
        findings.append(Finding(
            f"Bias correction speeds up Adam's first steps (lr {lr:.3g})",
            verdict_from(faster, separated),
            f"Mean training loss over the first 20 steps: {np.mean(on):.4g} with correction, {np.mean(off):.4g} "
            f"without (n={len(on)}, {len(off)}). Without correction the first steps are not smaller: "
            "m starts at (1 - beta_1) g and sqrt(v) at sqrt(1 - beta_2) |g|, so the step starts about "
            "(1 - beta_1) / sqrt(1 - beta_2) = 3.2 times the corrected one.",
        ))
    return findings or best_configuration(experiment, summary, runs, records)


def adagrad_stall(experiment, summary, runs, records):
    progress = {}
    for record in records:
        history = record.get("history") or {}
        losses = history.get("loss") or []
        if record.get("stage") == "final" and record.get("status") == "ok" and len(losses) >= 4:
            half = len(losses) // 2
            progress.setdefault(record["config"]["optimizer"], []).append(losses[-1] / losses[half - 1])
    if "adagrad" not in progress or "rmsprop" not in progress:
        return best_configuration(experiment, summary, runs, records)
    ada, rms = np.array(progress["adagrad"]), np.array(progress["rmsprop"])
    stalls = ada.mean() > rms.mean()
    separated = abs(ada.mean() - rms.mean()) > (ada.std(ddof=1) if len(ada) > 1 else 0) + (rms.std(ddof=1) if len(rms) > 1 else 0)
    stall = Finding(
        "AdaGrad's steps shrink until learning stalls, where RMSprop keeps learning",
        verdict_from(stalls, separated),
        f"Training loss at the end over the loss at mid-training (lower is more progress in the second half): "
        f"AdaGrad {ada.mean():.3g} ± {ada.std(ddof=1) if len(ada) > 1 else 0:.2g}, RMSprop {rms.mean():.3g} ± "
        f"{rms.std(ddof=1) if len(rms) > 1 else 0:.2g} (n={len(ada)}, {len(rms)}), each at its own tuned rate.",
    )
    return [stall, *tuned_arms(experiment, summary, runs, records)]


def warmup(experiment, summary, runs, records):
    findings = []
    for lr, part in summary.groupby(summary["learning_rate"].astype(float)):
        rows = {float(r["warmup_epochs"]): r for _, r in part.iterrows()}
        if 0.0 not in rows or len(rows) < 2:
            continue
        cold = rows[0.0]
        warm = rows[max(rows)]
        cold_bad, warm_bad = cold["n"] - cold["ok"], warm["n"] - warm["ok"]
        if cold_bad or warm_bad:
            verdict = verdict_from(warm_bad < cold_bad, warm_bad != cold_bad)
        elif cold["ok"] and warm["ok"]:
            verdict = verdict_from(warm["val_loss_mean"] < cold["val_loss_mean"], _separated(warm, cold, "val_loss"))
        else:
            verdict = "inconclusive"
        findings.append(Finding(
            f"Warm-up lets training start at a high learning rate (lr {lr:.3g})",
            verdict,
            f"Without warm-up: {cold['ok']}/{cold['n']} runs ok, validation loss {_ms(cold, 'val_loss')}; with "
            f"{max(rows):g} epochs of warm-up: {warm['ok']}/{warm['n']} ok, {_ms(warm, 'val_loss')}.",
        ))
    return findings or best_configuration(experiment, summary, runs, records)


def momentum(experiment, summary, runs, records):
    final = summary[summary.group.isin(set(runs[runs.stage == "final"].group))]
    best = {float(r["momentum"]): r for _, r in _ok(final).iterrows()}
    if 0.0 not in best or len(best) < 2:
        return tuned_arms(experiment, summary, runs, records)
    plain = best[0.0]
    top = min((m for m in best if m > 0), key=lambda m: best[m]["val_loss_mean"])
    listing = "; ".join(
        f"momentum {m:g}: {_ms(r, 'val_loss')} at lr {float(r['learning_rate']):.3g}" for m, r in sorted(best.items())
    )
    helps = Finding(
        "Momentum speeds up training (each value at its own best rate)",
        verdict_from(best[top]["val_loss_mean"] < plain["val_loss_mean"], _separated(best[top], plain, "val_loss")),
        f"Validation loss after the same epochs: {listing}.",
    )
    findings = [helps]
    if 0.99 in best and 0.9 in best:
        findings.append(Finding(
            "Too much momentum (0.99) keeps the model from learning well",
            verdict_from(best[0.99]["val_loss_mean"] > best[0.9]["val_loss_mean"], _separated(best[0.99], best[0.9], "val_loss")),
            f"0.99: {_ms(best[0.99], 'val_loss')}; 0.9: {_ms(best[0.9], 'val_loss')}.",
        ))
    return findings


ANALYSES = {
    "": best_configuration,
    "batch_size": batch_size,
    "learning_rate": learning_rate,
    "batch_norm": batch_norm,
    "tuned_arms": tuned_arms,
    "random_search": random_search,
    "input_normalization": input_normalization,
    "batch_size_lr": batch_size_lr,
    "restarts": restarts,
    "bias_correction": bias_correction,
    "adagrad_stall": adagrad_stall,
    "warmup": warmup,
    "momentum": momentum,
}
