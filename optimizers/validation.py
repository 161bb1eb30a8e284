"""Argument checks shared by the optimizers and schedules.

Every check raises at construction time with Keras's message form, naming the argument, the
allowed values and the value received, e.g.
``ValueError("Argument `beta_1` must be in [0, 1). Received: beta_1=1.0")``.
"""

import math
import numbers

import keras


def _is_real_number(value):
    # bool is a numbers.Real subclass; `momentum=True` is a bug, not 1.0.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(name, value):
    """Returns `value` as a Python float, or raises if it is not a real number."""
    if not _is_real_number(value):
        raise ValueError(
            f"Argument `{name}` must be a number. Received: {name}={value!r}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Argument `{name}` must be a finite number. Received: {name}={value!r}")
    return value


def check_learning_rate(value):
    """Accepts a non-negative number (int or float), a LearningRateSchedule or a callable.

    Numbers are returned as Python floats: Keras itself rejects `learning_rate=1`.
    """
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule) or callable(value):
        return value
    if not _is_real_number(value):
        raise ValueError(
            "Argument `learning_rate` must be a non-negative number, a "
            "`keras.optimizers.schedules.LearningRateSchedule` or a callable. "
            f"Received: learning_rate={value!r}"
        )
    return check_non_negative("learning_rate", value)


def check_unit_interval(name, value):
    """[0, 1): momentum, beta and rho values (1 would never forget, and never learn)."""
    value = check_number(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Argument `{name}` must be in [0, 1). Received: {name}={value!r}")
    return value


def check_keras_sgd_momentum(name, value):
    """SGD's `momentum`, checked as `keras.optimizers.SGD` checks it, with its message: a Python
    float (an int is refused, `np.float64` is a float) in [0, 1], 1 included. One addition:
    NaN is refused too (Keras's comparisons let it through)."""
    if not isinstance(value, float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be a float between [0, 1].")
    return float(value)


def check_positive(name, value):
    value = check_number(name, value)
    if not value > 0.0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")
    return value


def check_non_negative(name, value):
    value = check_number(name, value)
    if not value >= 0.0:
        raise ValueError(f"Argument `{name}` must be >= 0. Received: {name}={value!r}")
    return value


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{name}` must be True or False. Received: {name}={value!r}"
        )
    return value


def check_choice(name, value, choices):
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"Argument `{name}` must be one of {allowed}. Received: {name}={value!r}"
        )
    return value


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_integer(name, value):
    """Step counts such as `warmup_steps` and `steps_per_epoch`: an int > 0."""
    if not _is_integer(value) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be an integer > 0. Received: {name}={value!r}"
        )
    return int(value)


def check_non_negative_integer(name, value):
    if not _is_integer(value) or value < 0:
        raise ValueError(
            f"Argument `{name}` must be an integer >= 0. Received: {name}={value!r}"
        )
    return int(value)


def check_fraction(name, value):
    """[0, 1], both ends included: e.g. a final learning rate as a fraction of the first."""
    value = check_number(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Argument `{name}` must be in [0, 1]. Received: {name}={value!r}")
    return value


def check_string(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"Argument `{name}` must be a non-empty string. Received: {name}={value!r}"
        )
    return value
