"""The bowl and normalization studies: their rows, findings and figures (note 002: elongated
and rescaled surfaces; one row per optimizer and setting)."""

import math

import numpy as np

from experiments.evidence.findings import Finding, verdict_of_check
from experiments.kinds.surfaces.figures import (
    plot_bowl_shared,
    plot_normalization,
    plot_paths_grid,
)
from experiments.kinds.surfaces.landscapes import (
    BOWL_STEEP_CURVATURE,
    NORMALIZED,
    UNNORMALIZED,
)
from experiments.kinds.surfaces.measures import (
    RESCALE_STEPS,
    diverged,
    flat_to_steep_step_ratio,
    path_loss,
    sign_changes,
    steps_to_tolerance,
)
from experiments.kinds.surfaces.stepping import LABELS, OPTIMIZERS, best_learning_rate, learning_rate_grid
from experiments.outputs.summaries import mean as _mean
from experiments.outputs.summaries import mean_std_text as _ms
from experiments.outputs.summaries import std as _std


def study_row(study, surface, optimizer, learning_rate, chosen, outcome, successes, steps, **extra):
    steps = [s for s in steps if s is not None]
    return {
        "study": study,
        "surface": surface.name,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "learning_rate_chosen": chosen,
        "starts": len(successes),
        "outcome": outcome,
        "succeeded": int(sum(successes)),
        "steps_mean": _mean(steps),
        "steps_std": _std(steps),
        **extra,
    }


def _paired(differences):
    """(holds, separated) for per-start differences `other - reference` where lower is better:
    holds when the mean is below 0, separated when every start agrees (n >= 2)."""
    differences = np.asarray(differences, dtype=float)
    if differences.size == 0 or not np.all(np.isfinite(differences)):
        return False, False
    holds = differences.mean() < 0
    agree = np.all(differences < 0) if holds else np.all(differences > 0)
    return bool(holds), bool(agree and differences.size >= 2)


def study_bowl(params, starts, steppers, exp_dir, measured):
    surface, tolerance, steps = UNNORMALIZED, params["tolerance"], params["steps"]
    rows, findings, shown = [], [], {}
    figure_start = (-40.0, 4.0)
    limit = 2.0 / BOWL_STEEP_CURVATURE

    shared = {}  # (fraction, optimizer) -> per-start (steps to tolerance, sign changes)
    for fraction in params["bowl_learning_rate_fractions"]:
        learning_rate = fraction * limit
        for name in ("gd", "momentum_ema", "momentum"):
            stepper = steppers(surface, name)
            reached, changes, divergences = [], [], []
            for start in starts:
                path = stepper.path(start, learning_rate, steps)
                n = steps_to_tolerance(surface, path, tolerance)
                reached.append(n)
                changes.append(sign_changes(path[: (n if n is not None else steps) + 1, 1]))
                divergences.append(diverged(surface, path))
            shared[fraction, name] = (reached, changes)
            shown[fraction, name] = (learning_rate, stepper.path(figure_start, learning_rate, steps))
            rows.append(study_row(
                "elongated bowl, shared rate", surface, name, learning_rate, f"{fraction:g} x 2/L",
                f"f < {tolerance:g}", [n is not None for n in reached], reached,
                steep_sign_changes_mean=float(np.mean(changes)), steep_sign_changes_std=_std(changes),
                diverged=int(sum(divergences)),
            ))  # fmt: skip
    for name in ("momentum_ema", "momentum"):
        findings.append(_momentum_damping_finding(name, shared, params, limit, steps))
    oscillating = [f for f in params["bowl_learning_rate_fractions"] if f > 0.5]  # lr > 1/L
    if oscillating:
        gd_changes, momentum_changes = shared[max(oscillating), "gd"][1], shared[max(oscillating), "momentum"][1]
        measured["bowl_sign_changes_momentum_minus_gd"] = [float(m - g) for m, g in zip(momentum_changes, gd_changes)]

    tuned = {}
    grid = learning_rate_grid(params["learning_rate_grid"])
    for name in OPTIMIZERS:
        stepper = steppers(surface, name)
        learning_rate = best_learning_rate(stepper, figure_start, steps, tolerance, grid)
        paths = [stepper.path(start, learning_rate, steps) for start in starts]
        reached = [steps_to_tolerance(surface, path, tolerance) for path in paths]
        ratios = [flat_to_steep_step_ratio(surface, path) for path in paths]
        finals = [path_loss(surface, path)[-1] for path in paths]
        tuned[name] = (learning_rate, reached, ratios, stepper.path(figure_start, learning_rate, steps), finals)
        rows.append(study_row(
            "elongated bowl, own best rate", surface, name, learning_rate, "best of grid",
            f"f < {tolerance:g}", [n is not None for n in reached], reached,
            flat_to_steep_step_ratio=float(np.mean(ratios)), final_loss_mean=_mean(finals),
            diverged=sum(diverged(surface, path) for path in paths),
        ))  # fmt: skip
    findings.append(_rescaling_finding(tuned))
    measured["bowl_flat_to_steep_ratio_rmsprop"] = [float(r) for r in tuned["rmsprop"][2]]
    measured["bowl_flat_to_steep_ratio_adam"] = [float(r) for r in tuned["adam"][2]]
    for name in OPTIMIZERS[1:]:
        findings.append(_faster_than_gd_finding(name, tuned, steps, grid))

    figures = [
        plot_bowl_shared(shown, params, exp_dir, figure_start, tolerance),
        plot_paths_grid(
            surface,
            {name: (f"lr={tuned[name][0]:.3g}", tuned[name][3]) for name in OPTIMIZERS},
            f"Elongated bowl f = {surface.formula}: each optimizer at its own best learning rate",
            exp_dir,
            "bowl_tuned.png",
            tolerance,
        ),
    ]
    return rows, findings, figures


def _momentum_damping_finding(name, shared, params, limit, steps):
    claim = (
        f"{_capitalized(LABELS[name])} dampens gradient descent's oscillations on an elongated bowl "
        "(same learning rate)"
    )
    verdicts, parts, adds_oscillations_below = [], [], False
    for fraction in params["bowl_learning_rate_fractions"]:
        gd_reached, gd_changes = shared[fraction, "gd"]
        reached, changes = shared[fraction, name]
        oscillating = fraction > 0.5  # lr > 1/L: gradient descent flips w2's sign every step
        regime = "gradient descent oscillates" if oscillating else "below 1/L: gradient descent does not oscillate"
        fewer_steps = _paired([_or_inf(m, steps) - _or_inf(g, steps) for m, g in zip(reached, gd_reached)])
        fewer_changes = _paired([m - g for m, g in zip(changes, gd_changes)])
        parts.append(
            f"lr = {fraction:g} x 2/L ({regime}): "
            f"sign changes of w2 {_ms(changes)} vs gradient descent's {_ms(gd_changes)}; steps to tolerance "
            f"{_ms(reached)} vs {_ms(gd_reached)} (reached by {sum(r is not None for r in reached)} and "
            f"{sum(r is not None for r in gd_reached)} of {len(reached)} starts)"
        )
        if oscillating:
            verdicts.append(_both_better(fewer_steps, fewer_changes))
        elif np.mean(changes) > np.mean(gd_changes):
            adds_oscillations_below = True
    if not verdicts:
        verdict = "inconclusive"
        parts.append("no shared learning rate above 1/L, where gradient descent oscillates, was measured")
    elif all(v == verdicts[0] for v in verdicts):
        verdict = verdicts[0]
    else:
        verdict = "inconclusive"
    rule = (
        "Supported where, at every shared rate above 1/L, it has fewer sign changes and reaches "
        "tolerance in fewer steps than gradient descent from every start. "
    )
    caveat = (
        " Below 1/L it is the other way round: momentum brings oscillations that gradient descent does not have."
        if adds_oscillations_below
        else ""
    )
    return Finding(claim, verdict, rule + "; ".join(parts) + "." + caveat)


def _both_better(*comparisons):
    """Verdict for "better on every measure": each comparison is `_paired`'s (holds, separated).
    Supported if all hold on every start; not supported if any is worse on every start."""
    if all(holds and separated for holds, separated in comparisons):
        return "supported"
    if any(separated and not holds for holds, separated in comparisons):
        return "not supported"
    return "inconclusive"


def _capitalized(text):
    return text[:1].upper() + text[1:]


def _or_inf(value, steps):
    # A path that never reached tolerance counts as one step more than the run had.
    return value if value is not None else steps + 1


def _rescaling_finding(tuned):
    claim = "RMSprop and Adam rescale the axes: relatively larger steps along the flat axis than the steep one"
    parts = [f"{LABELS[n]} {_ms(tuned[n][2])}" for n in ("gd", "momentum", "rmsprop", "adam")]
    adaptive = np.concatenate([tuned["rmsprop"][2], tuned["adam"][2]])
    holds = bool(np.all(adaptive > 2.0))
    separated = holds or bool(np.all(adaptive < 2.0))
    return Finding(
        claim,
        verdict_of_check(holds, separated),
        f"Effective learning rate on the flat axis over that on the steep one, first {RESCALE_STEPS} "
        f"steps, each at its own best rate (supported if above 2 from every start; exactly 1 "
        f"for gradient descent): {'; '.join(parts)}.",
    )


def _faster_than_gd_finding(name, tuned, steps, grid):
    claim = (
        f"{_capitalized(LABELS[name])} reaches the minimum of an elongated bowl in fewer steps than gradient "
        "descent (each at its own best learning rate)"
    )
    gd_rate, gd_reached = tuned["gd"][0], tuned["gd"][1]
    rate, reached = tuned[name][0], tuned[name][1]
    holds, separated = _paired([_or_inf(m, steps) - _or_inf(g, steps) for m, g in zip(reached, gd_reached)])
    edge = " (best rate at the grid's edge)" if rate in (grid[0], grid[-1]) else ""
    hovers = ""
    if name == "rmsprop" and all(r is None for r in reached):
        hovers = (
            " None of its paths stayed below tolerance: at a constant rate its steps, about lr * g / rms(g), "
            "do not shrink with the gradient, so it ends up hopping across the minimum."
        )
    return Finding(
        claim,
        verdict_of_check(holds, separated),
        f"Steps to tolerance: {_ms(reached)} at lr={rate:.3g}{edge} vs gradient descent's {_ms(gd_reached)} "
        f"at lr={gd_rate:.3g}; reached by {sum(r is not None for r in reached)} and "
        f"{sum(r is not None for r in gd_reached)} of {len(reached)} starts within {steps} steps "
        f"(f at the end {_ms(tuned[name][4])}). Rates from {len(grid)} log-spaced values in "
        f"[{grid[0]:g}, {grid[-1]:g}] (factor "
        f"{grid[1] / grid[0]:.2f} apart), tuned on the figure's start." + hovers,
    )


def study_normalization(params, unit_starts, steppers, exp_dir, measured):
    tolerance, steps = params["tolerance"], params["steps"]
    grid = learning_rate_grid(params["learning_rate_grid"])
    rows, results = [], {}
    for surface, width in ((NORMALIZED, 1.0), (UNNORMALIZED, 10.0)):
        stepper = steppers(surface, "gd")
        figure_start = (-4.0 * width, 4.0)
        stable = [lr for lr in grid if not diverged(surface, stepper.path(figure_start, lr, steps))]
        unstable = [lr for lr in grid if lr not in stable]
        learning_rate = best_learning_rate(stepper, figure_start, steps, tolerance, grid)
        starts = unit_starts * np.array([width, 1.0])
        reached = [
            steps_to_tolerance(surface, stepper.path(start, learning_rate, steps), tolerance) for start in starts
        ]
        figure_path = stepper.path(figure_start, learning_rate, steps)
        results[surface.name] = (
            learning_rate,
            reached,
            max(stable, default=math.nan),
            min(unstable, default=math.nan),
            figure_path,
        )
        rows.append(study_row(
            "normalized vs unnormalized", surface, "gd", learning_rate, "best of grid",
            f"f < {tolerance:g}", [n is not None for n in reached], reached,
            largest_stable_learning_rate=max(stable, default=math.nan),
        ))  # fmt: skip
    normalized, unnormalized = results["normalized"], results["unnormalized"]
    holds, separated = _paired([_or_inf(a, steps) - _or_inf(b, steps) for a, b in zip(normalized[1], unnormalized[1])])
    limit = 2.0 / BOWL_STEEP_CURVATURE
    finding = Finding(
        "Normalized inputs speed up training: gradient descent converges in fewer steps on w1² + w2² than with "
        "one axis ten times wider",
        verdict_of_check(holds, separated),
        f"Steps to f < {tolerance:g}, each surface at its best grid rate: normalized {_ms(normalized[1])} "
        f"(lr={normalized[0]:.3g}), unnormalized {_ms(unnormalized[1])} (lr={unnormalized[0]:.3g}); reached by "
        f"{sum(r is not None for r in normalized[1])} and {sum(r is not None for r in unnormalized[1])} of "
        f"{len(unit_starts)} starts within {steps} steps. Both are stable below 2/L = {limit:g} (largest "
        f"stable grid rate {normalized[2]:.3g} and {unnormalized[2]:.3g}, smallest unstable {normalized[3]:.3g} "
        f"and {unnormalized[3]:.3g}); the wide axis' curvature 0.02 makes w1 shrink by at best "
        f"1 - 0.02 x lr per step.",
    )
    figure = plot_normalization(results, exp_dir, tolerance)
    return rows, [finding], [figure]
