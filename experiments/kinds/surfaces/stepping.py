"""Stepping our optimizers on a surface: one Stepper per (surface, optimizer), learning-rate
grids, the best rate of a grid, and the random starts."""

import math

import numpy as np

from experiments.kinds.surfaces.landscapes import BOWL_START_RADIUS
from experiments.kinds.surfaces.measures import path_loss, steps_to_tolerance

OPTIMIZERS = ("gd", "momentum", "momentum_ema", "rmsprop", "adam")
LABELS = {
    "gd": "gradient descent",
    "momentum": "momentum (Keras form)",
    "momentum_ema": "momentum (notes' EMA form)",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
LEARNING_RATE_RANGE = (1e-3, 30.0)


def surface_optimizer(name, momentum=0.9):
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



class Steppers:
    """One Stepper per (surface, optimizer), created on first use: each traces once."""

    def __init__(self, momentum):
        self.momentum = momentum
        self._steppers = {}

    def __call__(self, surface, name):
        key = (surface.name, name)
        if key not in self._steppers:
            self._steppers[key] = Stepper(surface, surface_optimizer(name, self.momentum))
        return self._steppers[key]

