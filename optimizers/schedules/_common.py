"""What the schedules share: the dtype they compute in, argument checks for nested schedules
and boundaries, and (de)serializing a schedule-or-number."""

import keras
from keras import ops

from optimizers.validation import check_non_negative, check_non_negative_integer

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule
DTYPE = "float32"  # Keras's schedules return float32 for Python-float arguments, as here.


def check_schedule_or_rate(name, value):
    """A nested schedule, or a constant rate given as a non-negative number."""
    if isinstance(value, LearningRateSchedule):
        return value
    if callable(value):
        raise ValueError(
            f"Argument `{name}` must be a `LearningRateSchedule` or a non-negative number; "
            f"plain callables cannot be saved. Received: {name}={value!r}"
        )
    try:
        return check_non_negative(name, value)
    except ValueError:
        raise ValueError(
            f"Argument `{name}` must be a `LearningRateSchedule` or a non-negative number. "
            f"Received: {name}={value!r}"
        ) from None


def check_schedule(name, value):
    if not isinstance(value, LearningRateSchedule):
        raise ValueError(
            f"Argument `{name}` must be a `LearningRateSchedule`. Received: {name}={value!r}"
        )
    return value


def check_increasing_boundaries(name, boundaries, minimum):
    if not isinstance(boundaries, (list, tuple)):
        raise ValueError(
            f"Argument `{name}` must be a list of integers. Received: {name}={boundaries!r}"
        )
    checked = [check_non_negative_integer(name, b) for b in boundaries]
    if checked and checked[0] < minimum:
        raise ValueError(
            f"Argument `{name}` must start at >= {minimum}. Received: {name}={boundaries!r}"
        )
    if any(b >= c for b, c in zip(checked, checked[1:])):
        raise ValueError(
            f"Argument `{name}` must be strictly increasing. Received: {name}={boundaries!r}"
        )
    return checked


def check_list(name, values):
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"Argument `{name}` must be a list of numbers. Received: {name}={values!r}")
    return values


def rate_at(schedule_or_rate, step):
    if isinstance(schedule_or_rate, LearningRateSchedule):
        return ops.cast(schedule_or_rate(step), DTYPE)
    return ops.convert_to_tensor(schedule_or_rate, dtype=DTYPE)


def serialize(schedule_or_rate):
    if isinstance(schedule_or_rate, LearningRateSchedule):
        return keras.optimizers.schedules.serialize(schedule_or_rate)
    return schedule_or_rate


def deserialize(config):
    if isinstance(config, dict):
        return keras.optimizers.schedules.deserialize(config)
    return config


def step_as_float(step):
    return ops.cast(step, DTYPE)

