"""Cosine schedules: half a cosine with an optional warm-up (`CosineDecay`) and SGDR's warm
restarts (`CosineDecayRestarts`)."""

import math

import keras
from keras import ops

from optimizers.hyperparameters import Hyperparameter, term
from optimizers.schedules._common import DTYPE, LearningRateSchedule, step_as_float
from optimizers.validation import (
    check_fraction,
    check_non_negative,
    check_non_negative_integer,
    check_positive,
    check_string,
)


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
            step = step_as_float(step)
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
class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decays that restart, each period `t_mul` times longer, its peak `m_mul` times lower.

    ```python
    fraction = step / first_decay_steps           # in units of the first period
    if t_mul == 1:
        i = floor(fraction)                       # the period step is in
        fraction = fraction - i
    else:                                         # periods 1, t_mul, t_mul**2, ... long
        i = floor(log(1 - fraction * (1 - t_mul)) / log(t_mul))
        fraction = (fraction - (1 - t_mul**i) / (1 - t_mul)) / t_mul**i
    lr = initial_learning_rate * ((1 - alpha) * m_mul**i * 0.5 * (1 + cos(pi * fraction)) + alpha)
    ```

    Period `i` starts at step `first_decay_steps * (1 - t_mul**i) / (1 - t_mul)` with the rate
    `initial_learning_rate * (m_mul**i * (1 - alpha) + alpha)`; `alpha` is a floor that does not
    shrink with `m_mul`. Same arguments, defaults (its name too, `"SGDRDecay"`), values and
    config as `keras.optimizers.schedules.CosineDecayRestarts`, computed as Keras computes it,
    in float32: the period index comes from a float32 `log`, which could land an ulp below an
    integer at a restart step (not seen for `t_mul` 1.5, 2 or 3 in the first 5,000 steps).
    With `t_mul < 1` the periods shrink and sum to `first_decay_steps / (1 - t_mul)` steps;
    the rate is NaN after that, as Keras's.

    Args:
        initial_learning_rate: float >= 0, the rate at step 0.
        first_decay_steps: number > 0, the length of the first period.
        t_mul: float > 0, each period's length over the previous one's. Defaults to `2.0`.
        m_mul: float >= 0, each period's peak over the previous one's. Defaults to `1.0`.
        alpha: float in [0, 1], the rate at a period's end as a fraction of
            `initial_learning_rate`. Defaults to `0.0`.
        name: String, defaults to `"SGDRDecay"` (Keras's name).

    References:
        - [Loshchilov & Hutter, 2016](https://arxiv.org/abs/1608.03983), SGDR.
    """

    # In a variable (optimizers/hyperparameters.py): a traced step reads a new rate.
    initial_learning_rate = Hyperparameter(check_non_negative, dtype=DTYPE)

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = check_positive("first_decay_steps", first_decay_steps)
        self.t_mul = check_positive("t_mul", t_mul)
        self.m_mul = check_non_negative("m_mul", m_mul)
        self.alpha = check_fraction("alpha", alpha)
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            fraction = step_as_float(step) / self.first_decay_steps
            t_mul = ops.convert_to_tensor(self.t_mul, dtype=DTYPE)
            if self.t_mul == 1.0:
                i = ops.floor(fraction)
                fraction = fraction - i
            else:
                i = ops.floor(ops.log(1.0 - fraction * (1.0 - t_mul)) / ops.log(t_mul))
                period_start = (1.0 - ops.power(t_mul, i)) / (1.0 - t_mul)
                fraction = (fraction - period_start) / ops.power(t_mul, i)
            cosine = 0.5 * ops.power(ops.convert_to_tensor(self.m_mul, dtype=DTYPE), i) * (1.0 + ops.cos(math.pi * fraction))
            decayed = (1.0 - self.alpha) * cosine + self.alpha
            return ops.multiply(term(self, "initial_learning_rate", DTYPE), decayed)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }
