"""Decay schedules: the notes' decay forms (inverse time, exponential, 1/sqrt), Keras's
piecewise-constant and polynomial decay. Their rates are held in variables
(optimizers/hyperparameters.py): a traced step reads a new rate."""

import keras
from keras import ops

from optimizers.hyperparameters import Hyperparameter, term
from optimizers.schedules._common import (
    DTYPE,
    LearningRateSchedule,
    check_increasing_boundaries,
    check_list,
    step_as_float,
)
from optimizers.validation import check_bool, check_non_negative, check_positive, check_string


class _DecayPerPeriod(LearningRateSchedule):
    """What the three decay forms share (Keras's arguments and config): a rate at step 0,
    decayed by `decay_rate` per period of `decay_steps` steps, smoothly or at whole periods."""

    _check_decay_rate = staticmethod(check_non_negative)
    # In a variable (optimizers/hyperparameters.py): a traced step reads a new rate.
    initial_learning_rate = Hyperparameter(check_non_negative, dtype=DTYPE)

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = self._check_decay_rate("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)
        self.name = check_string("name", name)

    def _rate(self):
        return term(self, "initial_learning_rate", DTYPE)

    def _periods(self, step):
        periods = ops.divide(step_as_float(step), self.decay_steps)
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
            decay_rate = ops.convert_to_tensor(self.decay_rate, dtype=DTYPE)
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
        lambda name, values: [check_non_negative(name, v) for v in check_list(name, values)],
        terms=lambda values: {f"value_{i}": v for i, v in enumerate(values)},
        dtype=DTYPE,
    )

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        self.boundaries = check_increasing_boundaries("boundaries", boundaries, minimum=0)
        if not isinstance(values, (list, tuple)) or len(values) != len(self.boundaries) + 1:
            raise ValueError(
                "Argument `values` must be a list one longer than `boundaries` "
                f"({len(self.boundaries) + 1} values). Received: values={values!r}"
            )
        self.values = values
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = step_as_float(step)
            rate = term(self, "value_0", DTYPE)
            for i, boundary in enumerate(self.boundaries, start=1):
                rate = ops.where(ops.greater(step, boundary), term(self, f"value_{i}", DTYPE), rate)
            return rate

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}




@keras.saving.register_keras_serializable(package="optimizers")
class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate` in `decay_steps` steps.

    ```python
    if cycle:   # stretch the decay to the next multiple of decay_steps (1 at step 0)
        decay_steps = decay_steps * max(ceil(step / decay_steps), 1)
    else:       # then stay at end_learning_rate
        step = min(step, decay_steps)
    lr = (initial_learning_rate - end_learning_rate) * (1 - step / decay_steps) ** power + end_learning_rate
    ```

    `power=1` (default) is a linear decay. With `cycle=True` the rate does not jump back to
    `initial_learning_rate`: each multiple of `decay_steps` ends at `end_learning_rate` and the
    next period decays from there over a longer stretch (TensorFlow's and Keras's convention).
    Same arguments, defaults, values and config as `keras.optimizers.schedules.PolynomialDecay`
    (where XLA makes Keras's `ceil(step / decay_steps)` one too large at a multiple of
    `decay_steps`, this one is corrected: the rate there is `end_learning_rate`).

    Args:
        initial_learning_rate: float >= 0, the rate at step 0.
        decay_steps: number > 0, the steps the decay takes.
        end_learning_rate: float >= 0, the rate at the end. Defaults to `0.0001`.
        power: float >= 0, the polynomial's power. Defaults to `1.0`.
        cycle: bool, see above. Defaults to `False`.
        name: String, defaults to `"PolynomialDecay"`.
    """

    # In variables (optimizers/hyperparameters.py): a traced step reads new rates.
    initial_learning_rate = Hyperparameter(check_non_negative, dtype=DTYPE)
    end_learning_rate = Hyperparameter(check_non_negative, dtype=DTYPE)

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.end_learning_rate = end_learning_rate
        self.power = check_non_negative("power", power)
        self.cycle = check_bool("cycle", cycle)
        self.name = check_string("name", name)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = step_as_float(step)
            decay_steps = ops.convert_to_tensor(self.decay_steps, dtype=DTYPE)
            if self.cycle:
                periods = ops.ceil(step / self.decay_steps)
                # XLA divides by a constant as a product with its reciprocal: 21 * (1/7) rounds
                # to 3.0000002, whose ceil is 4. A whole period too many is caught exactly here.
                periods = ops.where(ops.greater_equal((periods - 1.0) * self.decay_steps, step), periods - 1.0, periods)
                decay_steps = decay_steps * ops.maximum(periods, 1.0)
            else:
                step = ops.minimum(step, decay_steps)
            initial = term(self, "initial_learning_rate", DTYPE)
            end = term(self, "end_learning_rate", DTYPE)
            remaining = ops.power(1.0 - step / decay_steps, self.power)
            return ops.add(ops.multiply(initial - end, remaining), end)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }
