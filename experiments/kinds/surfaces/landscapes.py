"""The 2-D loss surfaces the studies step on: each with its formula, minima and plot range."""

import dataclasses
import math
from typing import Callable

import numpy as np

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
