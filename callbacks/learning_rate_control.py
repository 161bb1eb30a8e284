"""Changing the learning rate of a running `fit`: the one mechanism the callbacks share.

`HyperparameterControl` (a person's edit), `ReduceLROnPlateau` and `DivergenceGuard`
(rollback) change the learning rate through `make_learning_rate_adjustable`:
- a number learning rate lives in a Keras variable: a change assigns it (`learning_rate`);
- a scheduled learning rate is wrapped once in `optimizers.schedules.ScaledSchedule`, and a
  change assigns its multiplier (`learning_rate_multiplier`): warm-up and decay go on, scaled.
  Keras's own `ReduceLROnPlateau` and `LearningRateScheduler` raise on such optimizers.
On TensorFlow and torch neither needs a retrace: the train step reads variables at every step.
JAX's compiled step reads only the variables the optimizer tracks (its state): the multiplier
is not one of them, so a change of it retraces the train function there.
"""

import os

import keras

from callbacks.json_files import append_json_line
from optimizers.introspection import (
    base_optimizer,
    current_learning_rate,
    learning_rate_multiplier,
    learning_rate_object,
)
from optimizers.schedules import ScaledSchedule

LEARNING_RATE = "learning_rate"
MULTIPLIER = "learning_rate_multiplier"
FLOAT32_RELATIVE_PRECISION = 1e-6
# Every change, by whichever callback, one JSON line each.
CHANGES_FILENAME = "hyperparameter_changes.jsonl"


def make_learning_rate_adjustable(model):
    """Makes `model.optimizer`'s learning rate changeable mid-`fit`; returns the control's name.

    Returns `"learning_rate"` for a number learning rate (a Keras variable), or
    `"learning_rate_multiplier"` for a schedule, which is wrapped in `ScaledSchedule` on the first
    call (then the train function is retraced once, as the old trace holds the bare schedule).
    Returns `None` for a plain callable, which cannot be changed from outside.
    """
    optimizer = base_optimizer(model.optimizer)
    rate = learning_rate_object(optimizer)
    if isinstance(rate, ScaledSchedule):
        return MULTIPLIER
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        optimizer.learning_rate = ScaledSchedule(rate)
        model.make_train_function(force=True)
        return MULTIPLIER
    if isinstance(rate, keras.Variable):
        return LEARNING_RATE
    return None


def read_learning_rate_control(optimizer, control):
    """The control's current value: the learning rate, or the schedule's multiplier."""
    if control == MULTIPLIER:
        return float(keras.ops.convert_to_numpy(learning_rate_multiplier(optimizer).multiplier))
    return current_learning_rate(optimizer)


def write_learning_rate_control(model, control, value):
    """Sets the control to `value`; the next update uses it."""
    optimizer = base_optimizer(model.optimizer)
    if control == MULTIPLIER:
        learning_rate_multiplier(optimizer).multiplier.assign(value)
        if keras.backend.backend() == "jax":  # not part of the compiled step's state
            model.make_train_function(force=True)
    else:
        optimizer.learning_rate = value


def reduce_learning_rate(model, factor, min_lr=0.0):
    """Multiplies the current learning rate by `factor`, not going below `min_lr`.

    ```python
    if lr > min_lr:
        lr = max(lr * factor, min_lr)   # for a schedule: multiplier *= lr_new / lr_old
    ```

    `lr` is the rate the next update would use. For a schedule, `min_lr` bounds only this
    reduction: the schedule may still decay below it later. Returns `(old_lr, new_lr)`, or
    `None` when nothing was reduced.
    """
    optimizer = base_optimizer(model.optimizer)
    control = make_learning_rate_adjustable(model)
    if control is None:
        raise ValueError(
            "The learning rate is a plain callable and cannot be reduced at run time. "
            f"Received: learning_rate={learning_rate_object(optimizer)!r}"
        )
    old_lr = current_learning_rate(optimizer)
    # At the floor already, up to float32 rounding (multiplier * schedule is not exactly min_lr).
    if old_lr <= min_lr * (1 + FLOAT32_RELATIVE_PRECISION):
        return None
    new_lr = max(old_lr * factor, min_lr)
    if control == LEARNING_RATE:
        write_learning_rate_control(model, control, new_lr)
    else:
        multiplier = read_learning_rate_control(optimizer, MULTIPLIER)
        write_learning_rate_control(model, control, multiplier * new_lr / old_lr)
    return old_lr, new_lr


def append_change_record(log_dir, record):
    """Appends one change (a dict) as a JSON line to `<log_dir>/hyperparameter_changes.jsonl`.

    A rejected NaN or infinite value is written as null (strict JSON has neither); the
    record's `reason` names the value.
    """
    append_json_line(os.path.join(log_dir, CHANGES_FILENAME), record)
