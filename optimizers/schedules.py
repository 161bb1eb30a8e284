"""Learning-rate schedules: the notes' decay forms, warm-up, cosine decay, chaining and scaling.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`, usable as the
`learning_rate` of our optimizers and of Keras's, computed with `keras.ops` (so it runs inside
compiled graphs, XLA included) and serializable, nested schedules included.

Steps and epochs. A schedule is called with the optimizer's step count, `optimizer.iterations`:
the number of updates already applied. Update number `n` (counting from 0) uses `schedule(n)`,
so the first update uses `schedule(0)`. The notes write their decay forms per *epoch*
(`lr0 * 0.97 ** epoch_nb`); two equivalent ways to get that:

```python
# 1. Count in steps: one decay period per epoch, applied at epoch boundaries.
ExponentialDecay(lr0, decay_steps=steps_per_epoch, decay_rate=0.97, staircase=True)
# 2. Write the schedule in epochs, exactly as the notes do, and let PerEpoch convert.
PerEpoch(ExponentialDecay(lr0, decay_steps=1, decay_rate=0.97), steps_per_epoch)
```

Without `staircase`, `decay_steps=steps_per_epoch` decays smoothly, reaching the per-epoch value
at each epoch boundary.

Boundary conventions differ, on purpose, and are stated per class: `PiecewiseConstantDecay`
keeps Keras's (the new value starts *after* a boundary step), while `Warmup` and
`SequentialSchedule` switch *at* the boundary step, where the next schedule sees its step 0
(as optax's `join_schedules`).
"""

import math

import keras
from keras import ops

from optimizers.hyperparameters import Hyperparameter, term
from optimizers.validation import (
    check_bool,
    check_fraction,
    check_non_negative,
    check_non_negative_integer,
    check_positive,
    check_positive_integer,
    check_string,
)

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule
_DTYPE = "float32"  # Keras's schedules return float32 for Python-float arguments, as here.


def _check_schedule_or_rate(name, value):
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


def _check_schedule(name, value):
    if not isinstance(value, LearningRateSchedule):
        raise ValueError(
            f"Argument `{name}` must be a `LearningRateSchedule`. Received: {name}={value!r}"
        )
    return value


def _check_increasing_boundaries(name, boundaries, minimum):
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


def _check_list(name, values):
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"Argument `{name}` must be a list of numbers. Received: {name}={values!r}")
    return values


def _rate_at(schedule_or_rate, step):
    if isinstance(schedule_or_rate, LearningRateSchedule):
        return ops.cast(schedule_or_rate(step), _DTYPE)
    return ops.convert_to_tensor(schedule_or_rate, dtype=_DTYPE)


def _serialize(schedule_or_rate):
    if isinstance(schedule_or_rate, LearningRateSchedule):
        return keras.optimizers.schedules.serialize(schedule_or_rate)
    return schedule_or_rate


def _deserialize(config):
    if isinstance(config, dict):
        return keras.optimizers.schedules.deserialize(config)
    return config


def _step_as_float(step):
    return ops.cast(step, _DTYPE)


class _DecayPerPeriod(LearningRateSchedule):
    """What the three decay forms share (Keras's arguments and config): a rate at step 0,
    decayed by `decay_rate` per period of `decay_steps` steps, smoothly or at whole periods."""

    _check_decay_rate = staticmethod(check_non_negative)
    # In a variable (optimizers/hyperparameters.py): a traced step reads a new rate.
    initial_learning_rate = Hyperparameter(check_non_negative, dtype=_DTYPE)

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = self._check_decay_rate("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)
        self.name = check_string("name", name)

    def _rate(self):
        return term(self, "initial_learning_rate", _DTYPE)

    def _periods(self, step):
        periods = ops.divide(_step_as_float(step), self.decay_steps)
        return ops.floor(periods) if self.staircase else periods

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="optimizers")
class InverseTimeDecay(_DecayPerPeriod):
    """Inverse-time decay, the notes' `lr0 / (1 + decay * step)`.

    ```python
    lr = initial_learning_rate / (1 + decay_rate * step / decay_steps)
    # staircase=True: step / decay_steps -> floor(step / decay_steps)
    ```

    The notes' example: `InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.1)(1)` is
    `0.9090909...`. The `1 +` keeps the rate at `initial_learning_rate` at step 0 and below it
    after. Same formula and arguments as `keras.optimizers.schedules.InverseTimeDecay`.

    Args:
        initial_learning_rate: float >= 0, the rate at step 0.
        decay_steps: number > 0, the steps in one decay period (`steps_per_epoch` for the
            notes' per-epoch form).
        decay_rate: float >= 0, the decay per period; 0 keeps the rate constant.
        staircase: bool, decay only at whole periods. Defaults to `False`.
        name: String, defaults to `"InverseTimeDecay"`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            periods = self._periods(step)
            return ops.divide(self._rate(), 1.0 + self.decay_rate * periods)


@keras.saving.register_keras_serializable(package="optimizers")
class ExponentialDecay(_DecayPerPeriod):
    """Exponential decay, the notes' `0.97 ** epoch_nb * lr0`.

    ```python
    lr = initial_learning_rate * decay_rate ** (step / decay_steps)
    # staircase=True: step / decay_steps -> floor(step / decay_steps)
    ```

    The notes' form is `ExponentialDecay(lr0, decay_steps=steps_per_epoch, decay_rate=0.97,
    staircase=True)`. Same formula and arguments as `keras.optimizers.schedules.ExponentialDecay`.

    Args:
        initial_learning_rate: float >= 0, the rate at step 0.
        decay_steps: number > 0, the steps in one decay period.
        decay_rate: float > 0, the factor per period (< 1 decays, > 1 grows).
        staircase: bool, decay only at whole periods. Defaults to `False`.
        name: String, defaults to `"ExponentialDecay"`.
    """

    _check_decay_rate = staticmethod(check_positive)  # a factor: 0 would zero the rate

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            periods = self._periods(step)
            decay_rate = ops.convert_to_tensor(self.decay_rate, dtype=_DTYPE)
            return ops.multiply(self._rate(), ops.power(decay_rate, periods))


@keras.saving.register_keras_serializable(package="optimizers")
class InverseSqrtDecay(_DecayPerPeriod):
    """Inverse-square-root decay, the notes' `k / sqrt(epoch_nb) * lr0`, defined at step 0.

    ```python
    lr = initial_learning_rate / sqrt(1 + decay_rate * step / decay_steps)
    # staircase=True: step / decay_steps -> floor(step / decay_steps)
    ```

    Step 0: the notes' `k / sqrt(epoch)` is infinite at epoch 0. Shifting by one, as the notes
    do for inverse-time decay ("a +1 to prevent the algorithm from ever raising the learning
    rate"), starts at `initial_learning_rate` and only decreases. Clamping instead
    (`k / sqrt(max(epoch, 1))`) would hold the rate flat over the first two periods.
    For large steps the shifted form approaches the notes' form:
    `lr -> initial_learning_rate * k / sqrt(step / decay_steps)` with `k = 1 / sqrt(decay_rate)`.
    The same shape as `InverseTimeDecay`, with a square root.

    Args:
        initial_learning_rate: float >= 0, the rate at step 0.
        decay_steps: number > 0, the steps in one decay period.
        decay_rate: float >= 0, scales the periods; 0 keeps the rate constant. Defaults to `1.0`.
        staircase: bool, decay only at whole periods. Defaults to `False`.
        name: String, defaults to `"InverseSqrtDecay"`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate=1.0, staircase=False, name="InverseSqrtDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            periods = self._periods(step)
            return ops.divide(self._rate(), ops.sqrt(1.0 + self.decay_rate * periods))


@keras.saving.register_keras_serializable(package="optimizers")
class PiecewiseConstantDecay(LearningRateSchedule):
    """Constant rates between step boundaries: the notes' "manual decay", written down.

    ```python
    lr = values[sum(step > b for b in boundaries)]
    ```

    Keras's convention, kept so this is a drop-in for
    `keras.optimizers.schedules.PiecewiseConstantDecay`: `values[0]` while
    `step <= boundaries[0]`, `values[1]` while `boundaries[0] < step <= boundaries[1]`, ...,
    `values[-1]` after the last boundary. So the new value starts one step *after* a boundary.

    Args:
        boundaries: list of integers >= 0, strictly increasing.
        values: list of floats >= 0, one more than `boundaries`.
        name: String, defaults to `"PiecewiseConstant"` (Keras's name).
    """

    # In variables, one per value (optimizers/hyperparameters.py): a traced step reads new rates.
    values = Hyperparameter(
        lambda name, values: [check_non_negative(name, v) for v in _check_list(name, values)],
        terms=lambda values: {f"value_{i}": v for i, v in enumerate(values)},
        dtype=_DTYPE,
    )

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        self.boundaries = _check_increasing_boundaries("boundaries", boundaries, minimum=0)
        if not isinstance(values, (list, tuple)) or len(values) != len(self.boundaries) + 1:
            raise ValueError(
                "Argument `values` must be a list one longer than `boundaries` "
                f"({len(self.boundaries) + 1} values). Received: values={values!r}"
            )
        self.values = values
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = _step_as_float(step)
            rate = term(self, "value_0", _DTYPE)
            for i, boundary in enumerate(self.boundaries, start=1):
                rate = ops.where(ops.greater(step, boundary), term(self, f"value_{i}", _DTYPE), rate)
            return rate

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


@keras.saving.register_keras_serializable(package="optimizers")
class CosineDecay(LearningRateSchedule):
    """Half a cosine from a peak rate down to `alpha` times it, after an optional linear warm-up.

    ```python
    if warmup_target is None:                  # no warm-up: the peak is the first rate
        peak, decay_step = initial_learning_rate, step
    elif step < warmup_steps:                  # ramp from initial_learning_rate to the peak
        return initial_learning_rate + (warmup_target - initial_learning_rate) * step / warmup_steps
    else:
        peak, decay_step = warmup_target, step - warmup_steps
    progress = min(decay_step, decay_steps) / decay_steps
    lr = peak * (alpha + (1 - alpha) * 0.5 * (1 + cos(pi * progress)))
    ```

    After the decay the rate stays at `alpha * peak`. Same arguments, values and config as
    `keras.optimizers.schedules.CosineDecay`, warm-up included; `Warmup(CosineDecay(...))` is
    the same ramp written as a wrapper, for any schedule.

    Args:
        initial_learning_rate: float >= 0, the rate at step 0.
        decay_steps: number > 0, the steps the decay takes.
        alpha: float in [0, 1], the final rate as a fraction of the peak. Defaults to `0.0`.
        name: String, defaults to `"CosineDecay"`.
        warmup_target: float >= 0, the peak the warm-up ramps to, or `None` (default) for no
            warm-up (`warmup_steps` is then ignored, as in Keras).
        warmup_steps: int >= 0, the length of the ramp. Defaults to `0`.

    References:
        - [Loshchilov & Hutter, 2016](https://arxiv.org/abs/1608.03983), SGDR.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        super().__init__()
        self.initial_learning_rate = check_non_negative(
            "initial_learning_rate", initial_learning_rate
        )
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.alpha = check_fraction("alpha", alpha)
        self.name = check_string("name", name)
        if warmup_target is not None:
            warmup_target = check_non_negative("warmup_target", warmup_target)
        self.warmup_target = warmup_target
        self.warmup_steps = check_non_negative_integer("warmup_steps", warmup_steps)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = _step_as_float(step)
            if self.warmup_target is None:
                return self._decayed(self.initial_learning_rate, step)
            decayed = self._decayed(self.warmup_target, ops.maximum(step - self.warmup_steps, 0.0))
            if self.warmup_steps == 0:
                return decayed
            ramp = self.initial_learning_rate + (
                self.warmup_target - self.initial_learning_rate
            ) * (step / self.warmup_steps)
            return ops.where(ops.less(step, self.warmup_steps), ramp, decayed)

    def _decayed(self, peak, step):
        progress = ops.divide(ops.minimum(step, self.decay_steps), self.decay_steps)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.multiply(peak, self.alpha + (1.0 - self.alpha) * cosine)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


@keras.saving.register_keras_serializable(package="optimizers")
class Warmup(LearningRateSchedule):
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
        self.schedule = _check_schedule_or_rate("schedule", schedule)
        self.warmup_steps = check_positive_integer("warmup_steps", warmup_steps)
        self.initial_learning_rate = check_non_negative(
            "initial_learning_rate", initial_learning_rate
        )
        self.shift_steps = check_bool("shift_steps", shift_steps)
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = _step_as_float(step)
            if self.shift_steps:
                target = _rate_at(self.schedule, 0)
                after = _rate_at(self.schedule, ops.maximum(step - self.warmup_steps, 0.0))
            else:
                target = _rate_at(self.schedule, self.warmup_steps)
                after = _rate_at(self.schedule, step)
            ramp = self.initial_learning_rate + (target - self.initial_learning_rate) * (
                step / self.warmup_steps
            )
            return ops.where(ops.less(step, self.warmup_steps), ramp, after)

    def get_config(self):
        return {
            "schedule": _serialize(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "shift_steps": self.shift_steps,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = _deserialize(config["schedule"])
        return cls(**config)


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
        self.schedules = [_check_schedule_or_rate("schedules", s) for s in schedules]
        self.boundaries = _check_increasing_boundaries("boundaries", boundaries, minimum=1)
        if len(self.boundaries) != len(self.schedules) - 1:
            raise ValueError(
                "Argument `boundaries` must have one entry fewer than `schedules` "
                f"({len(self.schedules) - 1}). Received: boundaries={boundaries!r}"
            )
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = _step_as_float(step)
            rate = _rate_at(self.schedules[0], step)
            for start, schedule in zip(self.boundaries, self.schedules[1:]):
                # Later phases are computed at every step, on a clock clamped at 0.
                phase_rate = _rate_at(schedule, ops.maximum(step - start, 0.0))
                rate = ops.where(ops.greater_equal(step, start), phase_rate, rate)
            return rate

    def get_config(self):
        return {
            "schedules": [_serialize(s) for s in self.schedules],
            "boundaries": list(self.boundaries),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedules"] = [_deserialize(s) for s in config["schedules"]]
        return cls(**config)


@keras.saving.register_keras_serializable(package="optimizers")
class PerEpoch(LearningRateSchedule):
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
        self.schedule = _check_schedule("schedule", schedule)
        self.steps_per_epoch = check_positive_integer("steps_per_epoch", steps_per_epoch)
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            epoch = ops.floor(ops.divide(_step_as_float(step), self.steps_per_epoch))
            return _rate_at(self.schedule, epoch)

    def get_config(self):
        return {
            "schedule": _serialize(self.schedule),
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = _deserialize(config["schedule"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="optimizers")
class ScaledSchedule(LearningRateSchedule):
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
        self.schedule = _check_schedule_or_rate("schedule", schedule)
        self.name = check_string("name", name)
        self.multiplier = keras.Variable(
            check_non_negative("multiplier", multiplier),
            dtype=_DTYPE,
            trainable=False,
            name="learning_rate_multiplier",
        )

    def __call__(self, step):
        with keras.name_scope(self.name):
            return ops.multiply(self.multiplier, _rate_at(self.schedule, step))

    def get_config(self):
        return {
            "schedule": _serialize(self.schedule),
            "multiplier": float(ops.convert_to_numpy(self.multiplier)),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = _deserialize(config["schedule"])
        return cls(**config)
