"""Our optimizers' paths on 2-D loss surfaces: the notes' pictures, measured.

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

experiments/kinds/registry.py imports this package for DEFAULT_PARAMS when spec.py reads any experiment file, so
TensorFlow, Keras, pandas and matplotlib are imported inside the functions that use them.

Modules: landscapes (the surfaces), stepping (optimizers on a surface, rate grids, starts),
measures (what a path is measured by), studies (the four studies and their findings), figures.
"""

import numpy as np

from experiments.kinds.result import KindResult
from experiments.kinds.surfaces.critical_points import study_double_well, study_saddle
from experiments.kinds.surfaces.landscapes import (  # noqa: F401  (the package's public names)
    BOWL_STEEP_CURVATURE,
    DOUBLE_WELL,
    DOUBLE_WELL_HILL,
    NORMALIZED,
    SADDLE,
    UNNORMALIZED,
    Surface,
)
from experiments.kinds.surfaces.measures import sign_changes, steps_to_tolerance  # noqa: F401
from experiments.kinds.surfaces.stepping import OPTIMIZERS, Stepper, Steppers, bowl_starts, surface_optimizer  # noqa: F401
from experiments.kinds.surfaces.studies import study_bowl, study_normalization
from experiments.outputs.figures import TENSORBOARD_DIR, write_figures_to_tensorboard  # noqa: F401
from experiments.outputs.tables import table_of_rows

DEFAULT_PARAMS = {
    "steps": 2000,  # steps per path on the bowls and the saddle
    "tolerance": 1e-4,  # converged: f - f_min < tolerance
    "momentum": 0.9,  # of both momentum forms
    "learning_rate_grid": 25,  # log-spaced rates in LEARNING_RATE_RANGE, for each best rate
    "bowl_learning_rate_fractions": [0.4, 0.9],  # shared rates, as fractions of 2/L
    "saddle_offset": 1e-3,  # |w2| of the saddle starts, times U(0.5, 1.5)
    "double_well_learning_rate": 0.02,  # shared by gradient descent and both momentum forms
    "double_well_steps": 600,
    "double_well_starts": 400,  # starts on the worse side (at least `seeds`): a yes/no per start needs hundreds
}


def check_params(params):
    """Raises ValueError for values spec.py's type check lets through."""
    for name in ("steps", "learning_rate_grid", "double_well_steps", "double_well_starts"):
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
    """All four studies; `seeds` random starts each. Returns a KindResult: the table, the studies'
    findings, the figure names and the per-start measurements the experiment's claims decide on."""
    check_params(params)
    rng = np.random.default_rng(0)
    bowl = bowl_starts(seeds, 10.0, rng)
    unit = bowl_starts(seeds, 1.0, rng)
    saddle = np.stack(
        [rng.uniform(0.5, 1.5, seeds) * rng.choice([-1.0, 1.0], seeds),
         params["saddle_offset"] * rng.uniform(0.5, 1.5, seeds) * rng.choice([-1.0, 1.0], seeds)],
        axis=1,
    )  # fmt: skip
    steppers = Steppers(params["momentum"])
    rows, findings, figures, measured = [], [], [], {}
    for study, starts in (
        (study_bowl, bowl),
        (study_normalization, unit),
        (study_saddle, saddle),
        (study_double_well, seeds),
    ):
        more_rows, more_findings, more_figures = study(params, starts, steppers, exp_dir, measured)
        rows += more_rows
        findings += more_findings
        figures += more_figures
    from experiments.kinds.surfaces import surfaces_3d

    figures += surfaces_3d.write(exp_dir, steppers)  # the notes' 3-D pictures: HTML pages and a PNG
    write_figures_to_tensorboard(exp_dir, figures)
    return KindResult(table_of_rows(rows), findings, figures, measured)
