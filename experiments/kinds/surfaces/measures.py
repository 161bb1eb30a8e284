"""What is measured on a path: losses, gradients, steps to tolerance, sign changes, divergence,
and the per-axis effective learning rates."""

import numpy as np

RESCALE_STEPS = 10  # steps over which the per-axis effective learning rates are measured


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

