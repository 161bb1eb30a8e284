"""The four studies (bowl, normalization, saddle, double well): their rows, findings and figures."""

import math

import numpy as np

from experiments.evidence.findings import Finding, verdict_from
from experiments.kinds.surfaces.figures import (
    _plot_bowl_shared,
    _plot_double_well,
    _plot_normalization,
    _plot_paths_grid,
    _plot_saddle,
)
from experiments.kinds.surfaces.landscapes import (
    BOWL_STEEP_CURVATURE,
    DOUBLE_WELL,
    DOUBLE_WELL_HILL,
    DOUBLE_WELL_LOCAL,
    NORMALIZED,
    SADDLE,
    SADDLE_ESCAPE,
    UNNORMALIZED,
)
from experiments.kinds.surfaces.measures import (
    RESCALE_STEPS,
    diverged,
    first_step,
    flat_to_steep_step_ratio,
    path_loss,
    sign_changes,
    steps_to_tolerance,
)
from experiments.kinds.surfaces.stepping import LABELS, OPTIMIZERS, best_learning_rate, learning_rate_grid
from experiments.outputs.summaries import mean as _mean
from experiments.outputs.summaries import mean_std_text as _ms
from experiments.outputs.summaries import std as _std


def _row(study, surface, optimizer, learning_rate, chosen, outcome, successes, steps, **extra):
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
            rows.append(_row(
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
        rows.append(_row(
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
        _plot_bowl_shared(shown, params, exp_dir, figure_start, tolerance),
        _plot_paths_grid(
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
        verdict_from(holds, separated),
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
        verdict_from(holds, separated),
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
        rows.append(_row(
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
        verdict_from(holds, separated),
        f"Steps to f < {tolerance:g}, each surface at its best grid rate: normalized {_ms(normalized[1])} "
        f"(lr={normalized[0]:.3g}), unnormalized {_ms(unnormalized[1])} (lr={unnormalized[0]:.3g}); reached by "
        f"{sum(r is not None for r in normalized[1])} and {sum(r is not None for r in unnormalized[1])} of "
        f"{len(unit_starts)} starts within {steps} steps. Both are stable below 2/L = {limit:g} (largest "
        f"stable grid rate {normalized[2]:.3g} and {unnormalized[2]:.3g}, smallest unstable {normalized[3]:.3g} "
        f"and {unnormalized[3]:.3g}); the wide axis' curvature 0.02 makes w1 shrink by at best "
        f"1 - 0.02 x lr per step.",
    )
    figure = _plot_normalization(results, exp_dir, tolerance)
    return rows, [finding], [figure]


def study_saddle(params, starts, steppers, exp_dir, measured):
    surface, tolerance, steps = SADDLE, params["tolerance"], params["steps"]
    grid = learning_rate_grid(params["learning_rate_grid"])
    figure_start = (1.0, params["saddle_offset"])
    rows, escapes, shown, ridge = [], {}, {}, {}
    for name in OPTIMIZERS:
        stepper = steppers(surface, name)
        learning_rate = best_learning_rate(stepper, figure_start, steps, tolerance, grid)
        paths = [stepper.path(start, learning_rate, steps) for start in starts]
        escape = [first_step(np.abs(path[:, 1]) >= SADDLE_ESCAPE) for path in paths]
        reached = [steps_to_tolerance(surface, path, tolerance) for path in paths]
        escapes[name] = (learning_rate, escape, reached)
        shown[name] = (learning_rate, stepper.path(figure_start, learning_rate, steps))
        ridge[name] = first_step(np.abs(stepper.path((1.0, 0.0), learning_rate, steps)[:, 1]) >= SADDLE_ESCAPE)
        rows.append(_row(
            "saddle point", surface, name, learning_rate, "best of grid", f"|w2| >= {SADDLE_ESCAPE:g}",
            [e is not None for e in escape], escape,
            steps_to_minimum_mean=_mean([r for r in reached if r is not None]),
            diverged=sum(diverged(surface, path) for path in paths),
        ))  # fmt: skip
    measured["saddle_escaped_gd"] = [float(e is not None) for e in escapes["gd"][1]]
    all_escaped = all(e is not None for _, escape, _ in escapes.values() for e in escape)
    none_escaped = all(e is None for _, escape, _ in escapes.values() for e in escape)
    gd_rate = escapes["gd"][0]
    predicted = [math.log(SADDLE_ESCAPE / abs(start[1])) / math.log(1 + 2 * gd_rate) for start in starts]
    parts = [f"{LABELS[n]} {_ms(escapes[n][1])} steps (lr={escapes[n][0]:.3g})" for n in OPTIMIZERS]
    stuck = [LABELS[n] for n in OPTIMIZERS if ridge[n] is None]
    findings = [
        Finding(
            "A saddle point is not a trap: there is a way out, and every optimizer finds it",
            verdict_from(all_escaped, all_escaped or none_escaped),
            f"Starts with |w2| ~ {params['saddle_offset']:g}, each optimizer at its best grid rate: "
            f"escaped (|w2| >= {SADDLE_ESCAPE:g}) in {'; '.join(parts)}. Gradient descent's linearized "
            f"prediction log(1/|w2_0|)/log(1 + 2 lr): {_ms(predicted)}. Started exactly on the ridge "
            f"w2 = 0, {len(stuck)} of {len(OPTIMIZERS)} never left it "
            f"({', '.join(stuck) if stuck else 'none'}): the gradient has no w2 component there.",
        ),
        Finding(
            "Escape time from a saddle, each optimizer at its own best learning rate",
            "measured",
            "Steps to |w2| >= 1, then to f < -1 + tolerance: "
            + "; ".join(f"{LABELS[n]} {_ms(escapes[n][1])} then {_ms(escapes[n][2])}" for n in OPTIMIZERS)
            + ". The notes make no claim on which optimizer escapes fastest.",
        ),
    ]
    figure = _plot_saddle(shown, exp_dir)
    return rows, findings, [figure]


def study_double_well(params, seeds, steppers, exp_dir, measured):
    surface, steps = DOUBLE_WELL, params["double_well_steps"]
    learning_rate = params["double_well_learning_rate"]
    rng = np.random.default_rng(3)
    worse_side = np.stack([rng.uniform(1.0, 2.0, seeds), rng.uniform(-1.0, 1.0, seeds)], axis=1)
    figure_start = (1.8, 0.8)
    rows, outcomes, unsettled, shown = [], {}, 0, {}
    for name in ("gd", "momentum", "momentum_ema"):
        stepper = steppers(surface, name)
        ends = np.array([stepper.path(start, learning_rate, steps)[-1] for start in worse_side])
        found = list(ends[:, 0] < DOUBLE_WELL_HILL)
        outcomes[name] = found
        unsettled += _unsettled(ends, params["tolerance"])
        shown[name] = (f"lr={learning_rate:g}", stepper.path(figure_start, learning_rate, steps))
        rows.append(_row(
            "double well, starts on the worse side", surface, name, learning_rate, "shared",
            "ends in global minimum", found, [],
            final_loss_mean=_mean(path_loss(surface, ends)), final_loss_best=float(np.min(path_loss(surface, ends))),
        ))  # fmt: skip
    heights = path_loss(surface, worse_side)
    measured["double_well_global_momentum_minus_gd"] = [float(m) - float(g) for m, g in zip(outcomes["momentum"], outcomes["gd"])]
    findings = [_rolls_over_finding(outcomes, heights, learning_rate, steps, unsettled)]

    box = np.stack([rng.uniform(-2.0, 2.0, seeds), rng.uniform(-1.0, 1.0, seeds)], axis=1)
    stepper = steppers(surface, "gd")
    ends = np.array([stepper.path(start, learning_rate, steps)[-1] for start in box])
    losses = path_loss(surface, ends)
    found = ends[:, 0] < DOUBLE_WELL_HILL
    unsettled = _unsettled(ends, params["tolerance"])
    rows.append(_row(
        "double well, random starts", surface, "gd", learning_rate, "shared", "ends in global minimum",
        list(found), [], final_loss_mean=_mean(losses), final_loss_best=float(np.min(losses)),
    ))  # fmt: skip
    findings.append(_random_starts_finding(found, losses, surface, unsettled))
    figure = _plot_double_well(shown, box, found, exp_dir)
    return rows, findings, [figure]


def _unsettled(ends, tolerance):
    """How many end points are not yet at a minimum (f more than `tolerance` above both)."""
    losses = path_loss(DOUBLE_WELL, ends)
    minima = [DOUBLE_WELL.loss(w1, w2) for w1, w2 in DOUBLE_WELL.minima]
    return int(np.sum(np.min([np.abs(losses - m) for m in minima], axis=0) >= tolerance))


def _settling_note(unsettled):
    if not unsettled:
        return ""
    return f" {unsettled} path(s) had not yet settled in a minimum at the end: classified by the side of the hill."


def _rolls_over_finding(outcomes, heights, learning_rate, steps, unsettled):
    n = len(outcomes["gd"])
    fraction = {name: float(np.mean(found)) for name, found in outcomes.items()}
    difference = fraction["momentum"] - fraction["gd"]
    spread = 2 * math.sqrt(sum(p * (1 - p) / n for p in (fraction["momentum"], fraction["gd"])))
    over = np.asarray(outcomes["momentum"])
    heights_text = "".join(
        f"; momentum {what} from starts at f = {heights[mask].min():.2f} to {heights[mask].max():.2f}"
        for what, mask in (("got over", over), ("stayed", ~over))
        if mask.any()
    )
    return Finding(
        "Momentum rolls over a small hill into the better minimum where gradient descent stops in the local one",
        verdict_from(difference > 0, abs(difference) > spread and n >= 2),
        f"From {n} starts on the worse side (w1 in [1, 2]), lr={learning_rate:g}, {steps} steps: ended in "
        f"the global minimum: gradient descent {sum(outcomes['gd'])}/{n}, momentum (Keras form) "
        f"{sum(outcomes['momentum'])}/{n}, momentum (notes' EMA form, whose steps at the same rate are "
        f"(1 - momentum) times the Keras form's) {sum(outcomes['momentum_ema'])}/{n}. Supported if the "
        f"Keras form's fraction exceeds gradient descent's by more than twice the binomial standard "
        f"error ({spread:.2f}){heights_text} (the hill's top: f = {DOUBLE_WELL.loss(DOUBLE_WELL_HILL, 0.0):.2f})."
        + _settling_note(unsettled),
    )


def _random_starts_finding(found, losses, surface, unsettled):
    n = len(found)
    expected = (DOUBLE_WELL_HILL + 2.0) / 4.0
    best = float(np.min(losses))
    best_is_global = abs(best - surface.minimum_value) < 1e-3  # the minima's values differ by 1.0
    return Finding(
        "Random starts help against local minima: the best of N starts finds the global minimum when single "
        "starts may not",
        # Every start finding it shows no local minimum to escape: inconclusive.
        verdict_from(best_is_global, n >= 2 and not bool(np.all(found))),
        f"Gradient descent from {n} uniform starts in [-2, 2] x [-1, 1]: {int(found.sum())}/{n} "
        f"ended in the global minimum (expected fraction (x_hill + 2)/4 = {expected:.2f}; chance that "
        f"the best of {n} finds it 1 - (1 - {expected:.2f})^{n} = {1 - (1 - expected) ** n:.3f}). Best of "
        f"{n}: f = {best:.4f} (global minimum {surface.minimum_value:.4f}, local "
        f"{float(surface.loss(DOUBLE_WELL_LOCAL, 0.0)):.4f})." + _settling_note(unsettled),
    )

