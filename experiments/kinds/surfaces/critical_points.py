"""The saddle and double-well studies (note 003: critical points, a small hill momentum can roll
over, random starts against local minima): their rows, findings and figures."""

import math

import numpy as np

from experiments.evidence.findings import Finding, verdict_of_check
from experiments.kinds.surfaces.figures import (
    plot_double_well,
    plot_saddle,
)
from experiments.kinds.surfaces.landscapes import (
    DOUBLE_WELL,
    DOUBLE_WELL_HILL,
    DOUBLE_WELL_LOCAL,
    SADDLE,
    SADDLE_ESCAPE,
)
from experiments.kinds.surfaces.measures import (
    diverged,
    first_step,
    path_loss,
    steps_to_tolerance,
)
from experiments.kinds.surfaces.stepping import LABELS, OPTIMIZERS, best_learning_rate, learning_rate_grid
from experiments.kinds.surfaces.studies import study_row
from experiments.outputs.summaries import mean as _mean
from experiments.outputs.summaries import mean_std_text as _ms


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
        rows.append(study_row(
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
            verdict_of_check(all_escaped, all_escaped or none_escaped),
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
    figure = plot_saddle(shown, exp_dir)
    return rows, findings, [figure]


def study_double_well(params, seeds, steppers, exp_dir, measured):
    surface, steps = DOUBLE_WELL, params["double_well_steps"]
    learning_rate = params["double_well_learning_rate"]
    rng = np.random.default_rng(3)
    starts = max(seeds, params["double_well_starts"])  # paths cost microseconds: hundreds of starts
    worse_side = np.stack([rng.uniform(1.0, 2.0, starts), rng.uniform(-1.0, 1.0, starts)], axis=1)
    figure_start = (1.8, 0.8)
    rows, outcomes, unsettled, shown = [], {}, 0, {}
    for name in ("gd", "momentum", "momentum_ema"):
        stepper = steppers(surface, name)
        ends = np.array([stepper.path(start, learning_rate, steps)[-1] for start in worse_side])
        found = list(ends[:, 0] < DOUBLE_WELL_HILL)
        outcomes[name] = found
        unsettled += _unsettled(ends, params["tolerance"])
        shown[name] = (f"lr={learning_rate:g}", stepper.path(figure_start, learning_rate, steps))
        rows.append(study_row(
            "double well, starts on the worse side", surface, name, learning_rate, "shared",
            "ends in global minimum", found, [],
            final_loss_mean=_mean(path_loss(surface, ends)), final_loss_best=float(np.min(path_loss(surface, ends))),
        ))  # fmt: skip
    heights = path_loss(surface, worse_side)
    # Paired yes/no per start (momentum, gradient descent): decided as a difference of proportions.
    measured["double_well_global_momentum_vs_gd"] = [(int(m), int(g)) for m, g in zip(outcomes["momentum"], outcomes["gd"])]
    findings = [_rolls_over_finding(outcomes, heights, learning_rate, steps, unsettled)]

    box = np.stack([rng.uniform(-2.0, 2.0, seeds), rng.uniform(-1.0, 1.0, seeds)], axis=1)
    stepper = steppers(surface, "gd")
    ends = np.array([stepper.path(start, learning_rate, steps)[-1] for start in box])
    losses = path_loss(surface, ends)
    found = ends[:, 0] < DOUBLE_WELL_HILL
    unsettled = _unsettled(ends, params["tolerance"])
    rows.append(study_row(
        "double well, random starts", surface, "gd", learning_rate, "shared", "ends in global minimum",
        list(found), [], final_loss_mean=_mean(losses), final_loss_best=float(np.min(losses)),
    ))  # fmt: skip
    findings.append(_random_starts_finding(found, losses, surface, unsettled))
    figure = plot_double_well(shown, box, found, exp_dir)
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
        verdict_of_check(difference > 0, abs(difference) > spread and n >= 2),
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
        verdict_of_check(best_is_global, n >= 2 and not bool(np.all(found))),
        f"Gradient descent from {n} uniform starts in [-2, 2] x [-1, 1]: {int(found.sum())}/{n} "
        f"ended in the global minimum (expected fraction (x_hill + 2)/4 = {expected:.2f}; chance that "
        f"the best of {n} finds it 1 - (1 - {expected:.2f})^{n} = {1 - (1 - expected) ** n:.3f}). Best of "
        f"{n}: f = {best:.4f} (global minimum {surface.minimum_value:.4f}, local "
        f"{float(surface.loss(DOUBLE_WELL_LOCAL, 0.0)):.4f})." + _settling_note(unsettled),
    )
