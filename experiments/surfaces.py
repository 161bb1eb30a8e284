"""Our optimizers' paths on 2-D loss surfaces: the notes' pictures, measured (issue 6).

Each optimizer steps on one `keras.Variable` `w = (w1, w2)` with `optimizer.apply` and gradients
from `tf.GradientTape`; every study runs from `seeds` random starts (the same starts for every
optimizer) and draws its paths from one fixed start on a contour plot.

1. Elongated bowl: the notes' "unnormalized" surface, one axis ten times wider,

       f = (w1 / 10)**2 + w2**2        # curvatures 0.02 (flat w1) and 2 (steep w2)

   Plain gradient descent multiplies w2 by `1 - 2 * lr` each step: it flips sign every step
   (oscillates) once lr > 1/2 and diverges for lr > 2/L = 1. Compared at shared learning rates
   (fractions of 2/L): steps until `f < tolerance`, and oscillation = the number of sign
   changes of the steep coordinate w2 before then. Then every optimizer at its own best
   learning rate from a log grid (the rate is a nuisance setting, tuned per optimizer on the
   figure's start): steps to tolerance, and how each rescales the axes,

       flat_to_steep_step_ratio = (sum |dw1| / sum |g1|) / (sum |dw2| / sum |g2|)

   over the first `RESCALE_STEPS` steps: each axis' effective learning rate, flat over steep.
   Exactly 1 for gradient descent; RMSprop and Adam divide by a running root mean square of
   each coordinate's gradients, so they take relatively larger steps along the flat axis.
2. Normalized `f = w1**2 + w2**2` against the unnormalized surface above, plain gradient
   descent at each surface's best learning rate from the grid, from starts at the same
   positions relative to each surface's width. Both have L = 2, so both are stable below
   2/L = 1, but on the unnormalized one the flat axis then crawls (factor 1 - 0.02 * lr per
   step). (The notes' code draws `w1**2 + w2**2` on both grids, the second just wider; what they
   mean, as in Ng's lecture, is a feature ten times larger: `(10 * w1)**2 + w2**2` has the same
   elongated shape, with w1 in other units.)
3. Saddle point `f = w1**2 - w2**2 + w2**4 / 4`: a saddle at (0, 0), minima f = -1 at
   (0, +-sqrt(2)). Starts at w1 in +-[0.5, 1.5] and |w2| around `saddle_offset`: near the
   ridge w2 = 0 that leads into the saddle. Escaped: |w2| >= 1. Gradient descent grows w2 by
   `1 + 2 * lr` per step near the saddle, so it needs about log(1 / |w2_0|) / log(1 + 2 * lr)
   steps; a start exactly on the ridge (w2 = 0) has no gradient across it and never leaves.
4. Tilted double well `f = (w1**2 - 1)**2 + 0.5 * w1 + w2**2`: a global minimum near
   w1 = -1.06 and a worse local one near w1 = 0.93 behind a small hill at w1 = 0.13 (the roots
   of 4 w1**3 - 4 w1 + 0.5). From starts on the worse side (w1 in [1, 2]), at one shared
   learning rate: does momentum roll over the hill where gradient descent stops? Then plain
   gradient descent from random starts over the box [-2, 2] x [-1, 1]: the fraction that ends
   in the global minimum (with a small enough learning rate, those that start left of the
   hill: (x_hill + 2) / 4 = 0.53) and the best of N.

Optimizers (ours): "gd" SGD; "momentum" SGD(momentum) in the Keras form
`v = momentum * v - lr * g; w += v`; "momentum_ema" the notes' form `v = momentum * v +
(1 - momentum) * g; w -= lr * v` (at one learning rate its steps are (1 - momentum) times the
Keras form's); "rmsprop" and "adam" with Keras's defaults otherwise.

`spec.py` imports this module for DEFAULT_PARAMS when it reads any experiment file, so
TensorFlow, Keras, pandas and matplotlib are imported inside the functions that use them.
"""

import dataclasses
import math
import os
from typing import Callable

import numpy as np

from experiments.figures import TENSORBOARD_DIR, save_figure, write_figures_to_tensorboard
from experiments.figures import figure as _figure
from experiments.findings import Finding, verdict_from
from experiments.tables import display_table

DEFAULT_PARAMS = {
    "steps": 2000,  # steps per path on the bowls and the saddle
    "tolerance": 1e-4,  # converged: f - f_min < tolerance
    "momentum": 0.9,  # of both momentum forms
    "learning_rate_grid": 25,  # log-spaced rates in LEARNING_RATE_RANGE, for each best rate
    "bowl_learning_rate_fractions": [0.4, 0.9],  # shared rates, as fractions of 2/L
    "saddle_offset": 1e-3,  # |w2| of the saddle starts, times U(0.5, 1.5)
    "double_well_learning_rate": 0.02,  # shared by gradient descent and both momentum forms
    "double_well_steps": 600,
}
OPTIMIZERS = ("gd", "momentum", "momentum_ema", "rmsprop", "adam")
LABELS = {
    "gd": "gradient descent",
    "momentum": "momentum (Keras form)",
    "momentum_ema": "momentum (notes' EMA form)",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
COLOURS = dict(zip(OPTIMIZERS, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
LEARNING_RATE_RANGE = (1e-3, 30.0)
RESCALE_STEPS = 10  # steps over which the per-axis effective learning rates are measured
SADDLE_ESCAPE = 1.0  # |w2| at which a path has left the saddle
BOWL_START_RADIUS = math.sqrt(32.0)  # f = 32 at every bowl start; the figure's is (-40, 4)


@dataclasses.dataclass(frozen=True)
class Surface:
    name: str
    formula: str
    loss: Callable  # f(w1, w2) with + - * ** only: numpy arrays and tensors alike
    minima: tuple  # ((w1, w2), ...), the global minimum first
    extent: tuple  # plot range (w1_min, w1_max, w2_min, w2_max)

    @property
    def minimum_value(self):
        return float(self.loss(*np.asarray(self.minima[0], np.float64)))


def _double_well_critical_points(tilt=0.5):
    """Global minimum, hill top, local minimum of (w1**2 - 1)**2 + tilt * w1 along w1."""
    return tuple(sorted(np.roots([4.0, 0.0, -4.0, tilt]).real))


DOUBLE_WELL_GLOBAL, DOUBLE_WELL_HILL, DOUBLE_WELL_LOCAL = _double_well_critical_points()
NORMALIZED = Surface("normalized", "w1² + w2²", lambda w1, w2: w1**2 + w2**2, ((0.0, 0.0),), (-5, 5, -5, 5))
UNNORMALIZED = Surface(
    "unnormalized", "(w1/10)² + w2²", lambda w1, w2: (w1 / 10) ** 2 + w2**2, ((0.0, 0.0),), (-50, 50, -5, 5)
)
BOWL_STEEP_CURVATURE = 2.0  # L of both bowls: d²f/dw2² = 2
SADDLE = Surface(
    "saddle",
    "w1² − w2² + w2⁴/4",
    lambda w1, w2: w1**2 - w2**2 + w2**4 / 4,
    ((0.0, math.sqrt(2.0)), (0.0, -math.sqrt(2.0))),
    (-1.6, 1.6, -2.2, 2.2),
)
DOUBLE_WELL = Surface(
    "double_well",
    "(w1² − 1)² + 0.5 w1 + w2²",
    lambda w1, w2: (w1**2 - 1) ** 2 + 0.5 * w1 + w2**2,
    ((DOUBLE_WELL_GLOBAL, 0.0), (DOUBLE_WELL_LOCAL, 0.0)),
    (-2.1, 2.1, -1.3, 1.3),
)


def make_optimizer(name, momentum=0.9):
    """Our optimizer `name` (one of OPTIMIZERS); each path sets its learning rate."""
    from optimizers import SGD, Adam, RMSprop

    if name == "gd":
        return SGD(learning_rate=0.01)
    if name == "momentum":
        return SGD(learning_rate=0.01, momentum=momentum)
    if name == "momentum_ema":
        return SGD(learning_rate=0.01, momentum=momentum, momentum_form="ema")
    if name == "rmsprop":
        return RMSprop(learning_rate=0.01)
    if name == "adam":
        return Adam(learning_rate=0.01)
    raise ValueError(f"Unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}.")


class Stepper:
    """One optimizer on one surface: `path(start, learning_rate, steps)` gives the points visited.

    The steps run in one `tf.function`, traced once per Stepper. Before each path the weights,
    the learning rate and every optimizer variable (step count, slots) are reset to their
    values right after `build`, so each path starts with a fresh optimizer.
    """

    def __init__(self, surface, optimizer):
        import keras
        import tensorflow as tf

        self.surface = surface
        self.optimizer = optimizer
        self.weights = keras.Variable(np.zeros(2, np.float32), name="w")
        optimizer.build([self.weights])
        self._fresh_state = [variable.numpy() for variable in optimizer.variables]
        self._take_steps = tf.function(self._steps)

    def _steps(self, count):
        import tensorflow as tf

        points = tf.TensorArray(tf.float32, size=count)
        for step in tf.range(count):
            with tf.GradientTape() as tape:
                loss = self.surface.loss(self.weights[0], self.weights[1])
            self.optimizer.apply(tape.gradient(loss, [self.weights]), [self.weights])
            points = points.write(step, self.weights.value)
        return points.stack()

    def path(self, start, learning_rate, steps):
        """Float64 array (steps + 1, 2): the start, then the weights after each step."""
        import tensorflow as tf

        for variable, value in zip(self.optimizer.variables, self._fresh_state):
            variable.assign(value)
        self.optimizer.learning_rate = float(learning_rate)
        start = np.asarray(start, np.float32)
        self.weights.assign(start)
        points = self._take_steps(tf.constant(steps, tf.int32)).numpy()
        return np.vstack([start[None], points]).astype(np.float64)


def path_loss(surface, path):
    """f at every point of a path, in float64 (inf or NaN where the path diverged)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return surface.loss(path[:, 0], path[:, 1])


def path_gradients(surface, path):
    """The gradient of f at every point of a path, in float64, from tf.GradientTape."""
    import tensorflow as tf

    points = tf.constant(path, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(points)
        total = tf.reduce_sum(surface.loss(points[:, 0], points[:, 1]))
    return tape.gradient(total, points).numpy()


def first_step(condition):
    """Index of the first True in a boolean array, or None."""
    hits = np.flatnonzero(condition)
    return int(hits[0]) if hits.size else None


def steps_to_tolerance(surface, path, tolerance):
    """The step from which f - f_min < tolerance holds to the end of the path, or None.

    Not the first step below: momentum and adaptive methods can dip below and leave again.
    """
    above = np.flatnonzero(~(path_loss(surface, path) - surface.minimum_value < tolerance))
    if above.size == 0:
        return 0
    return int(above[-1]) + 1 if above[-1] + 1 < len(path) else None


def sign_changes(values):
    """How often consecutive values have opposite signs (a zero breaks no run)."""
    signs = np.sign(values)
    signs = signs[signs != 0]
    return int(np.sum(signs[1:] != signs[:-1]))


def diverged(surface, path):
    losses = path_loss(surface, path)
    return not np.isfinite(losses[-1]) or losses[-1] > losses[0]


def flat_to_steep_step_ratio(surface, path, steps=RESCALE_STEPS):
    """Effective learning rate on w1 (flat) over that on w2 (steep), see the module docstring."""
    moves = np.abs(np.diff(path[: steps + 1], axis=0))
    gradients = np.abs(path_gradients(surface, path[:steps]))
    effective = moves.sum(axis=0) / gradients.sum(axis=0)
    return float(effective[0] / effective[1])


def learning_rate_grid(size):
    return np.geomspace(*LEARNING_RATE_RANGE, size)


def best_learning_rate(stepper, start, steps, tolerance, grid):
    """The grid rate reaching tolerance in the fewest steps (else the lowest final f)."""
    scores = []
    for learning_rate in grid:
        path = stepper.path(start, learning_rate, steps)
        reached = steps_to_tolerance(stepper.surface, path, tolerance)
        final = path_loss(stepper.surface, path)[-1]
        scores.append((reached if reached is not None else math.inf, final if np.isfinite(final) else math.inf))
    return float(grid[min(range(len(grid)), key=lambda i: scores[i])])


def bowl_starts(count, width, rng):
    """`count` points with f = 32 on (w1 / width)**2 + w2**2, 20-70 degrees from the axes,
    in random quadrants: every start has both a flat and a steep component."""
    angles = np.deg2rad(rng.uniform(20, 70, count))
    signs = rng.choice([-1.0, 1.0], size=(count, 2))
    return np.stack([width * np.cos(angles), np.sin(angles)], axis=1) * BOWL_START_RADIUS * signs


# --- the four studies ------------------------------------------------------------------------


class _Steppers:
    """One Stepper per (surface, optimizer), created on first use: each traces once."""

    def __init__(self, momentum):
        self.momentum = momentum
        self._steppers = {}

    def __call__(self, surface, name):
        key = (surface.name, name)
        if key not in self._steppers:
            self._steppers[key] = Stepper(surface, make_optimizer(name, self.momentum))
        return self._steppers[key]


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


def _ms(values, digits=3):
    """'mean ± std (n=..)' of the finite values."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "none"
    text = f"{np.mean(values):.{digits}g}"
    if len(values) > 1:
        text += f" ± {np.std(values, ddof=1):.2g}"
    return text + f" (n={len(values)})"


def _paired(differences):
    """(holds, separated) for per-start differences `other - reference` where lower is better:
    holds when the mean is below 0, separated when every start agrees (n >= 2)."""
    differences = np.asarray(differences, dtype=float)
    if differences.size == 0 or not np.all(np.isfinite(differences)):
        return False, False
    holds = differences.mean() < 0
    agree = np.all(differences < 0) if holds else np.all(differences > 0)
    return bool(holds), bool(agree and differences.size >= 2)


def study_bowl(params, starts, steppers, exp_dir):
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


def _std(values):
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


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


def study_normalization(params, unit_starts, steppers, exp_dir):
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


def study_saddle(params, starts, steppers, exp_dir):
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


def _mean(values):
    return float(np.mean(values)) if len(values) else math.nan


def study_double_well(params, seeds, steppers, exp_dir):
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


# --- figures ---------------------------------------------------------------------------------


def _contours(ax, surface, levels=24):
    w1 = np.linspace(surface.extent[0], surface.extent[1], 300)
    w2 = np.linspace(surface.extent[2], surface.extent[3], 300)
    grid1, grid2 = np.meshgrid(w1, w2)
    values = surface.loss(grid1, grid2)
    # Levels at quantiles of f: evenly spread lines whatever the surface's range.
    quantiles = np.unique(np.quantile(values, np.linspace(0, 1, levels + 2) ** 2)[1:-1])
    ax.contourf(grid1, grid2, values, levels=quantiles, cmap="Greys", alpha=0.35, extend="both")
    ax.contour(grid1, grid2, values, levels=quantiles, colors="grey", linewidths=0.5)
    ax.set_xlim(surface.extent[:2])
    ax.set_ylim(surface.extent[2:])
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.plot(
        *surface.minima[0],
        marker="*",
        color="gold",
        markeredgecolor="black",
        markersize=15,
        linestyle="",
        label="global minimum",
        zorder=5,
    )
    if len(surface.minima) > 1:
        marker = "*" if surface.name == "saddle" else "X"
        label = "another global minimum" if surface.name == "saddle" else "local minimum"
        for point in surface.minima[1:]:
            ax.plot(
                *point,
                marker=marker,
                color="white",
                markeredgecolor="black",
                markersize=11,
                linestyle="",
                label=label,
                zorder=5,
            )


def _draw_path(ax, path, colour, label, tolerance_step=None):
    end = len(path) if tolerance_step is None else tolerance_step + 1
    finite = np.all(np.isfinite(path[:end]), axis=1)
    ax.plot(
        path[:end][finite, 0], path[:end][finite, 1], "-o", color=colour, markersize=2.5, linewidth=1.0, label=label
    )
    ax.plot(*path[0], marker="o", color="black", markersize=7, linestyle="", label="start", zorder=6)


def _legend_once(ax, **kwargs):
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, **kwargs)


def _plot_bowl_shared(shown, params, exp_dir, start, tolerance):
    fractions = sorted(set(params["bowl_learning_rate_fractions"]))
    fractions = fractions if len(fractions) <= 2 else [fractions[0], fractions[-1]]  # rows: lowest, highest
    names = ("gd", "momentum_ema", "momentum")
    figure = _figure(5.0 * len(names), 2.8 * len(fractions) + 0.6)
    axes = figure.subplots(len(fractions), len(names), squeeze=False)
    for row, fraction in enumerate(fractions):
        for column, name in enumerate(names):
            ax = axes[row, column]
            learning_rate, path = shown[fraction, name]
            _contours(ax, UNNORMALIZED)
            n = steps_to_tolerance(UNNORMALIZED, path, tolerance)
            _draw_path(ax, path, COLOURS[name], LABELS[name], n)
            reached = f"f < {tolerance:g} after {n} steps" if n is not None else "tolerance not reached"
            changes = sign_changes(path[: (n if n is not None else len(path) - 1) + 1, 1])
            ax.set_title(
                f"{LABELS[name]}, lr = {fraction:g} x 2/L = {learning_rate:.3g}\n"
                f"{reached}, {changes} sign changes of w2",
                fontsize=9,
            )
            _legend_once(ax, loc="lower right")
    figure.suptitle(
        f"Elongated bowl f = {UNNORMALIZED.formula} (axes not to scale): the same learning rate for all three"
    )
    return save_figure(figure, exp_dir, "bowl_shared_rate.png")


def _plot_paths_grid(surface, paths, title, exp_dir, file_name, tolerance):
    names = list(paths)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure = _figure(5.0 * columns, 2.9 * rows + 0.6)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        note, path = paths[name]
        _contours(ax, surface)
        n = steps_to_tolerance(surface, path, tolerance)
        _draw_path(ax, path, COLOURS[name], LABELS[name], n)
        reached = f"f < {tolerance:g} after {n} steps" if n is not None else "tolerance not reached"
        ax.set_title(f"{LABELS[name]}, {note}\n{reached}", fontsize=9)
        _legend_once(ax, loc="lower right")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    figure.suptitle(title)
    return save_figure(figure, exp_dir, file_name)


def _plot_normalization(results, exp_dir, tolerance):
    figure = _figure(12, 7.5)
    grid = figure.add_gridspec(2, 2, height_ratios=[1, 2.4])
    wide = figure.add_subplot(grid[0, :])
    square = figure.add_subplot(grid[1, 0])
    curves = figure.add_subplot(grid[1, 1])
    for ax, surface in ((square, NORMALIZED), (wide, UNNORMALIZED)):
        learning_rate, reached, _, _, path = results[surface.name]
        _contours(ax, surface)
        n = steps_to_tolerance(surface, path, tolerance)
        _draw_path(ax, path, "tab:blue", "gradient descent", n)
        ax.set_aspect("equal")
        ax.set_title(
            f"{surface.name}: f = {surface.formula}, lr = {learning_rate:.3g}: f < {tolerance:g} after {n} steps",
            fontsize=9,
        )
        _legend_once(ax, loc="upper right")
        losses = path_loss(surface, path)
        curves.semilogy(
            np.arange(len(losses)), np.maximum(losses, 1e-30), label=f"{surface.name} (lr = {learning_rate:.3g})"
        )
    curves.axhline(tolerance, color="grey", linestyle=":", label="tolerance")
    curves.set_ylim(1e-12, 1e3)
    curves.set_xlabel("step")
    curves.set_ylabel("f")
    curves.set_title("Loss per step, gradient descent at each surface's best rate", fontsize=9)
    curves.legend(fontsize=8)
    figure.suptitle("Normalized vs unnormalized inputs (equal scales on both axes of each contour plot)")
    return save_figure(figure, exp_dir, "normalization.png")


def _plot_saddle(shown, exp_dir):
    figure = _figure(13, 5.2)
    contour, escape = figure.subplots(1, 2)
    _contours(contour, SADDLE)
    contour.plot(
        0,
        0,
        marker="P",
        color="white",
        markeredgecolor="black",
        markersize=10,
        linestyle="",
        label="saddle point",
        zorder=5,
    )
    for name, (learning_rate, path) in shown.items():
        _draw_path(contour, path, COLOURS[name], f"{LABELS[name]} (lr = {learning_rate:.3g})")
        w2 = np.abs(path[:, 1])
        escape.semilogy(np.arange(len(w2)), np.maximum(w2, 1e-30), color=COLOURS[name], label=LABELS[name])
    escape.axhline(SADDLE_ESCAPE, color="grey", linestyle=":", label="escaped")
    escape.set_xlim(0, 150)
    escape.set_ylim(1e-5, 10)
    escape.set_xlabel("step")
    escape.set_ylabel("|w2| (distance across the ridge)")
    escape.set_title("Leaving the saddle: |w2| per step (first 150 steps)", fontsize=9)
    escape.legend(fontsize=7)
    contour.set_title(f"f = {SADDLE.formula}, start near the ridge w2 = 0", fontsize=9)
    _legend_once(contour, loc="lower left")
    figure.suptitle("Saddle point: each optimizer at its own best learning rate")
    return save_figure(figure, exp_dir, "saddle.png")


def _plot_double_well(shown, box, found, exp_dir):
    figure = _figure(13, 5.2)
    paths, starts = figure.subplots(1, 2)
    for ax in (paths, starts):
        _contours(ax, DOUBLE_WELL)
        ax.axvline(DOUBLE_WELL_HILL, color="black", linestyle="--", linewidth=0.8, label="top of the hill")
    for name, (note, path) in shown.items():
        _draw_path(paths, path, COLOURS[name], f"{LABELS[name]} ({note})")
    paths.set_title("From the worse side: who rolls over the hill?", fontsize=9)
    starts.scatter(box[found, 0], box[found, 1], color="tab:green", s=18, label="start → global minimum", zorder=4)
    starts.scatter(
        box[~found, 0], box[~found, 1], color="tab:red", marker="x", s=18, label="start → local minimum", zorder=4
    )
    starts.set_title(
        f"Gradient descent from {len(box)} random starts: {int(found.sum())} find the global minimum", fontsize=9
    )
    _legend_once(paths, loc="lower left")
    _legend_once(starts, loc="lower left")
    figure.suptitle(f"Double well f = {DOUBLE_WELL.formula}")
    return save_figure(figure, exp_dir, "double_well.png")


def check_params(params):
    """Raises ValueError for values spec.py's type check lets through."""
    for name in ("steps", "learning_rate_grid", "double_well_steps"):
        if params[name] < 2:
            raise ValueError(f"params.{name} must be >= 2; got {params[name]!r}")
    for name in ("tolerance", "double_well_learning_rate", "saddle_offset"):
        if not params[name] > 0:
            raise ValueError(f"params.{name} must be > 0; got {params[name]!r}")
    if not 0 <= params["momentum"] < 1:
        raise ValueError(f"params.momentum must be in [0, 1); got {params['momentum']!r}")
    fractions = params["bowl_learning_rate_fractions"]
    if not fractions or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in fractions):
        raise ValueError(f"params.bowl_learning_rate_fractions must list numbers > 0; got {fractions!r}")


def run(params, seeds, exp_dir):
    """All four studies; `seeds` random starts each. Returns (table, findings, figure names)."""
    check_params(params)
    rng = np.random.default_rng(0)
    bowl = bowl_starts(seeds, 10.0, rng)
    unit = bowl_starts(seeds, 1.0, rng)
    saddle = np.stack(
        [rng.uniform(0.5, 1.5, seeds) * rng.choice([-1.0, 1.0], seeds),
         params["saddle_offset"] * rng.uniform(0.5, 1.5, seeds) * rng.choice([-1.0, 1.0], seeds)],
        axis=1,
    )  # fmt: skip
    steppers = _Steppers(params["momentum"])
    rows, findings, figures = [], [], []
    for study, starts in (
        (study_bowl, bowl),
        (study_normalization, unit),
        (study_saddle, saddle),
        (study_double_well, seeds),
    ):
        more_rows, more_findings, more_figures = study(params, starts, steppers, exp_dir)
        rows += more_rows
        findings += more_findings
        figures += more_figures
    write_figures_to_tensorboard(exp_dir, figures)
    return display_table(rows), findings, figures
