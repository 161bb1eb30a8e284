"""Schedules made of schedules: warm-up, one after another, per epoch, and scaled by a
multiplier that can change while training runs."""

import keras
from keras import ops

from optimizers.schedules._common import (
    DTYPE,
    LearningRateSchedule,
    check_increasing_boundaries,
    check_schedule,
    check_schedule_or_rate,
    deserialize,
    rate_at,
    serialize,
    step_as_float,
)
from optimizers.validation import check_bool, check_non_negative, check_positive_integer, check_string


class _WrapsASchedule(LearningRateSchedule):
    """A schedule built around one other schedule, its config holding that one serialized."""

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = deserialize(config["schedule"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="optimizers")
class Warmup(_WrapsASchedule):
    """Linear warm-up, then any schedule: the notes' "increase then decrease".

    ```python
    target = schedule(0) if shift_steps else schedule(warmup_steps)
    if step < warmup_steps:
        lr = initial_learning_rate + (target - initial_learning_rate) * step / warmup_steps
    else:
        lr = schedule(step - warmup_steps) if shift_steps else schedule(step)
    ```

    The rate is continuous at `warmup_steps`, where the warm-up ends on the schedule's value.
    At step 0 it is `initial_learning_rate`: 0 by default (as in Keras's `CosineDecay` warm-up
    example), so the first update does nothing; Goyal et al. start from a small positive rate.
    `Warmup(CosineDecay(peak, n), w, initial_learning_rate=lr0)` is Keras's
    `CosineDecay(lr0, n, warmup_target=peak, warmup_steps=w)`, also available here.

    Which step the wrapped schedule sees is `shift_steps`:
    - `True` (default): `step - warmup_steps`, so the schedule starts its own clock when the
      warm-up ends and runs in full afterwards (optax's `join_schedules`, Keras's
      `CosineDecay(warmup_target=...)`, `SequentialSchedule` here).
    - `False`: the optimizer's step itself, so the schedule's first `warmup_steps` steps are
      replaced by the ramp (TF Model Garden's `LinearWarmup`).

    Args:
        schedule: a `LearningRateSchedule`, or a number for a constant rate after warm-up.
        warmup_steps: int > 0, the length of the ramp.
        initial_learning_rate: float >= 0, the rate at step 0. Defaults to `0.0`.
        shift_steps: bool, see above. Defaults to `True`.
        name: String, defaults to `"Warmup"`.

    References:
        - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677), gradual warm-up.
    """

    def __init__(
        self,
        schedule,
        warmup_steps,
        initial_learning_rate=0.0,
        shift_steps=True,
        name="Warmup",
    ):
        super().__init__()
        self.schedule = check_schedule_or_rate("schedule", schedule)
        self.warmup_steps = check_positive_integer("warmup_steps", warmup_steps)
        self.initial_learning_rate = check_non_negative(
            "initial_learning_rate", initial_learning_rate
        )
        self.shift_steps = check_bool("shift_steps", shift_steps)
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = step_as_float(step)
            if self.shift_steps:
                target = rate_at(self.schedule, 0)
                after = rate_at(self.schedule, ops.maximum(step - self.warmup_steps, 0.0))
            else:
                target = rate_at(self.schedule, self.warmup_steps)
                after = rate_at(self.schedule, step)
            ramp = self.initial_learning_rate + (target - self.initial_learning_rate) * (
                step / self.warmup_steps
            )
            return ops.where(ops.less(step, self.warmup_steps), ramp, after)

    def get_config(self):
        return {
            "schedule": serialize(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "shift_steps": self.shift_steps,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="optimizers")
class SequentialSchedule(LearningRateSchedule):
    """Runs schedules one after another, each on its own clock (PyTorch's `SequentialLR`).

    ```python
    starts = [0] + boundaries
    i = sum(step >= b for b in boundaries)
    lr = schedules[i](step - starts[i])
    ```

    Schedule `i` runs for the steps in `[starts[i], starts[i + 1])` and sees step 0 at its
    start, as optax's `join_schedules` (note: `PiecewiseConstantDecay` switches one step later,
    Keras's convention). A number in `schedules` is a constant rate.

    Example, the notes' warm-up then decay, then a fine-tuning phase at a small constant rate:

    ```python
    SequentialSchedule(
        [Warmup(0.1, warmup_steps=100), CosineDecay(0.1, decay_steps=900), 1e-4],
        boundaries=[100, 1000],
    )
    ```

    Args:
        schedules: list of `LearningRateSchedule`s or numbers, at least one.
        boundaries: list of integers > 0, strictly increasing, one fewer than `schedules`.
        name: String, defaults to `"SequentialSchedule"`.
    """

    def __init__(self, schedules, boundaries, name="SequentialSchedule"):
        super().__init__()
        if not isinstance(schedules, (list, tuple)) or not schedules:
            raise ValueError(
                "Argument `schedules` must be a non-empty list of schedules or numbers. "
                f"Received: schedules={schedules!r}"
            )
        self.schedules = [check_schedule_or_rate("schedules", s) for s in schedules]
        self.boundaries = check_increasing_boundaries("boundaries", boundaries, minimum=1)
        if len(self.boundaries) != len(self.schedules) - 1:
            raise ValueError(
                "Argument `boundaries` must have one entry fewer than `schedules` "
                f"({len(self.schedules) - 1}). Received: boundaries={boundaries!r}"
            )
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = step_as_float(step)
            rate = rate_at(self.schedules[0], step)
            for start, schedule in zip(self.boundaries, self.schedules[1:]):
                # Later phases are computed at every step, on a clock clamped at 0.
                phase_rate = rate_at(schedule, ops.maximum(step - start, 0.0))
                rate = ops.where(ops.greater_equal(step, start), phase_rate, rate)
            return rate

    def get_config(self):
        return {
            "schedules": [serialize(s) for s in self.schedules],
            "boundaries": list(self.boundaries),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedules"] = [deserialize(s) for s in config["schedules"]]
        return cls(**config)


@keras.saving.register_keras_serializable(package="optimizers")
class PerEpoch(_WrapsASchedule):
    """Feeds a schedule the epoch number instead of the step: the notes' per-epoch formulas.

    ```python
    lr = schedule(step // steps_per_epoch)
    ```

    The wrapped schedule's "steps" are epochs: `PerEpoch(InverseTimeDecay(lr0, 1, 0.1), 100)`
    is the notes' `lr0 / (1 + 0.1 * epoch_nb)` for 100 batches per epoch. The rate changes
    only at epoch boundaries.

    Args:
        schedule: a `LearningRateSchedule` written in epochs.
        steps_per_epoch: int > 0, optimizer steps (batches) per epoch.
        name: String, defaults to `"PerEpoch"`.
    """

    def __init__(self, schedule, steps_per_epoch, name="PerEpoch"):
        super().__init__()
        self.schedule = check_schedule("schedule", schedule)
        self.steps_per_epoch = check_positive_integer("steps_per_epoch", steps_per_epoch)
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            epoch = ops.floor(ops.divide(step_as_float(step), self.steps_per_epoch))
            return rate_at(self.schedule, epoch)

    def get_config(self):
        return {
            "schedule": serialize(self.schedule),
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="optimizers")
class ScaledSchedule(_WrapsASchedule):
    """A schedule times a multiplier that can be changed while training runs.

    ```python
    lr = multiplier * schedule(step)
    ```

    `multiplier` is a non-trainable `keras.Variable`: compiled train functions read its current
    value at every step, so `scaled.multiplier.assign(0.5)` takes effect on the next update
    without retracing. This is how the callbacks in `callbacks.hyperparameter_control` change
    a scheduled learning rate (a person's edit, plateau reduction): warm-up and decay go on,
    scaled. The optimizer does not track the variable, so its variable list (and checkpoints
    of it) are unchanged; `get_config` records the current value, so a saved model reloads
    with the multiplier it had.

    Args:
        schedule: a `LearningRateSchedule`, or a number for a constant base rate.
        multiplier: float >= 0, the initial multiplier. Defaults to `1.0`.
        name: String, defaults to `"ScaledSchedule"`.
    """

    def __init__(self, schedule, multiplier=1.0, name="ScaledSchedule"):
        super().__init__()
        self.schedule = check_schedule_or_rate("schedule", schedule)
        self.name = check_string("name", name)
        self.multiplier = keras.Variable(
            check_non_negative("multiplier", multiplier),
            dtype=DTYPE,
            trainable=False,
            name="learning_rate_multiplier",
        )

    def __call__(self, step):
        with keras.name_scope(self.name):
            return ops.multiply(self.multiplier, rate_at(self.schedule, step))

    def get_config(self):
        return {
            "schedule": serialize(self.schedule),
            "multiplier": float(ops.convert_to_numpy(self.multiplier)),
            "name": self.name,
        }

