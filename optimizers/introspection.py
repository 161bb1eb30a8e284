"""What code outside the update rules needs to know about an optimizer, ours or Keras's.

The callbacks (and anything else that watches or steers training) ask here for the optimizer
behind a wrapper, the learning rate a step applied, each variable's slots by role and the
effective per-parameter learning rate. Every read of a private attribute of our optimizers
(optimizers/*.py) or of Keras's (`keras.optimizers.*`) happens in this module and nowhere
else, so a renamed slot or a Keras upgrade breaks one tested file, not every caller.

Slot roles (`slots(optimizer)`), per trained variable, in the order the optimizer was built:

```python
FIRST_MOMENT       # Adam's m = beta_1 * m + (1 - beta_1) * g
SECOND_MOMENT      # Adam's v, RMSprop's velocity = rho * v + (1 - rho) * g**2
MAX_SECOND_MOMENT  # AMSGrad's running maximum of v
ACCUMULATOR        # Adagrad's sum of squared gradients
MOMENTUM           # SGD's velocity (Keras: v = m*v - lr*g), RMSprop's momentum buffer
AVERAGE_GRADIENT   # centered RMSprop's mean gradient = rho * a + (1 - rho) * g
```

Values come back aggregated under `tf.distribute`: a `MirroredVariable` reads as its
(identical) per-replica value, `iterations` as one number.
"""

import numbers

import keras
import numpy as np

from optimizers import hyperparameters
from optimizers.adagrad import Adagrad
from optimizers.adam import Adam
from optimizers.rmsprop import RMSprop
from optimizers.schedules import ScaledSchedule
from optimizers.sgd import SGD

FIRST_MOMENT = "first_moment"
SECOND_MOMENT = "second_moment"
MAX_SECOND_MOMENT = "max_second_moment"
ACCUMULATOR = "accumulator"
MOMENTUM = "momentum"
AVERAGE_GRADIENT = "average_gradient"
ROLES = (FIRST_MOMENT, SECOND_MOMENT, MAX_SECOND_MOMENT, ACCUMULATOR, MOMENTUM, AVERAGE_GRADIENT)

# The attribute each family keeps a role's slot list in (the same names in ours and Keras's).
_SLOT_ATTRIBUTES = {
    "sgd": {MOMENTUM: "momentums"},
    "adagrad": {ACCUMULATOR: "_accumulators"},
    "rmsprop": {SECOND_MOMENT: "_velocities", MOMENTUM: "_momentums", AVERAGE_GRADIENT: "_average_gradients"},
    "adam": {FIRST_MOMENT: "_momentums", SECOND_MOMENT: "_velocities", MAX_SECOND_MOMENT: "_velocity_hats"},
}
_FAMILIES = (
    ("sgd", (SGD, keras.optimizers.SGD)),
    ("adagrad", (Adagrad, keras.optimizers.Adagrad)),
    ("rmsprop", (RMSprop, keras.optimizers.RMSprop)),
    ("adam", (Adam, keras.optimizers.Adam)),  # keras.optimizers.AdamW is an Adam
)
# Keras's conventions where ours have a switch: epsilon inside the square root for Adagrad and
# RMSprop, Kingma & Ba's "epsilon hat" for Adam; Keras always bias-corrects.
_KERAS_EPSILON_INSIDE_SQRT = {"adagrad": True, "rmsprop": True, "adam": False}


def base_optimizer(optimizer):
    """The optimizer that holds the learning rate and the slots (unwraps `LossScaleOptimizer`)."""
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


def family(optimizer):
    """`"sgd"`, `"adagrad"`, `"rmsprop"`, `"adam"` (ours or Keras's, AdamW included), or None."""
    optimizer = base_optimizer(optimizer)
    for name, classes in _FAMILIES:
        if isinstance(optimizer, classes):
            return name
    return None


def completed_steps(optimizer):
    """`optimizer.iterations` as a Python int: the number of steps applied so far.

    `int(optimizer.iterations)` fails on a `MirroredVariable`; `convert_to_numpy` reads it on
    every backend and strategy (4x slower on TensorFlow: only where `int` fails).
    """
    try:
        return int(optimizer.iterations)
    except TypeError:  # under tf.distribute: "int() argument must be ... not 'MirroredVariable'"
        return int(keras.ops.convert_to_numpy(optimizer.iterations))


def learning_rate_object(optimizer):
    """What the learning rate was given as: a `keras.Variable` (a number), a
    `LearningRateSchedule` or a callable. Keras keeps it in the private `_learning_rate`;
    the public `learning_rate` evaluates it at the current iteration."""
    return base_optimizer(optimizer)._learning_rate


def learning_rate_schedule(optimizer):
    """The optimizer's `LearningRateSchedule`, or None for a number or a callable."""
    rate = learning_rate_object(optimizer)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return rate
    return None


def current_learning_rate(optimizer):
    """The rate the next step would apply, as a Python float."""
    return _as_float(base_optimizer(optimizer).learning_rate)


def applied_learning_rate(optimizer, step):
    """The learning rate that optimizer step `step` (1, 2, ...) applied, as a Python float.

    Exact for a schedule: `schedule(step - 1)`, as Keras evaluates it before incrementing
    `iterations` (a `ScaledSchedule` with its multiplier's current value). For a number or a
    callable it is the current value, which is the one `step` used as long as nothing changed
    it since: a caller that changes it at run time reads it before the step runs.
    """
    schedule = learning_rate_schedule(optimizer)
    if schedule is not None:
        return _as_float(schedule(step - 1))
    return current_learning_rate(optimizer)


def learning_rate_multiplier(optimizer):
    """The `ScaledSchedule` wrapped around the optimizer's schedule, or None."""
    rate = learning_rate_object(optimizer)
    return rate if isinstance(rate, ScaledSchedule) else None


def slots(optimizer):
    """`{role: [slot variable per trained variable]}` for the roles this optimizer has.

    Only the roles that exist for its settings: SGD without momentum has none, RMSprop has a
    momentum buffer only with `momentum > 0`, an average gradient only when `centered`, Adam a
    maximum only with `amsgrad=True`. `{}` for other optimizers or before `build`.
    """
    name = family(optimizer)
    if name is None:
        return {}
    optimizer = base_optimizer(optimizer)
    found = {}
    for role, attribute in _SLOT_ATTRIBUTES[name].items():
        variables = list(getattr(optimizer, attribute, None) or [])
        if variables:
            found[role] = variables
    return found


def momentum_buffers(optimizer):
    """SGD's velocity, RMSprop's momentum buffer, Adam's first moment `m`; [] if none."""
    found = slots(optimizer)
    return found.get(MOMENTUM, found.get(FIRST_MOMENT, []))


def state_variables(optimizer):
    """The optimizer variables a rollback restores: every slot, not the step counter, a number
    learning rate or the hyperparameters ours hold in variables (a `LossScaleOptimizer`'s loss
    scale is not included either)."""
    optimizer = base_optimizer(optimizer)
    keep_running = {id(optimizer.iterations), id(learning_rate_object(optimizer))}
    keep_running.update(id(v) for v in hyperparameters.variables(optimizer))
    return [v for v in optimizer.variables if id(v) not in keep_running]


def epsilon_inside_sqrt(optimizer):
    """Where epsilon sits: `lr / sqrt(s + epsilon)` (True) or `lr / (sqrt(s) + epsilon)`."""
    name = family(optimizer)
    return getattr(base_optimizer(optimizer), "epsilon_inside_sqrt", _KERAS_EPSILON_INSIDE_SQRT.get(name))


def bias_correction_factors(optimizer, step):
    """`(1 / (1 - beta_1**step), 1 / (1 - beta_2**step))` for a bias-corrected Adam, else None."""
    optimizer = base_optimizer(optimizer)
    if family(optimizer) != "adam" or not getattr(optimizer, "bias_correction", True):
        return None
    return 1.0 / (1.0 - optimizer.beta_1**step), 1.0 / (1.0 - optimizer.beta_2**step)


def has_per_parameter_learning_rate(optimizer):
    """Whether the step size differs per parameter (Adagrad, RMSprop, Adam); False for SGD;
    None when unknown (an optimizer of another family)."""
    name = family(optimizer)
    return None if name is None else name != "sgd"


def effective_learning_rates(optimizer, learning_rate, step, read=None):
    """Per trained variable, the float64 array of per-parameter learning rates step `step` applied.

    Read from the slots after that step, with `learning_rate` the rate it used:

    ```python
    # Adagrad:  step = eff * gradient;  RMSprop: increment = eff * gradient
    eff = learning_rate / sqrt(accumulator + epsilon)        # epsilon_inside_sqrt (Keras)
    eff = learning_rate / (sqrt(accumulator) + epsilon)      # the notes' placement
    # RMSprop: `velocity` (centered: velocity - average_gradient**2) in place of `accumulator`
    # Adam: step = eff * m_hat, m_hat = m / (1 - beta_1**t), the bias-corrected momentum
    eff = learning_rate * sqrt(1 - beta_2**t) / (sqrt(v) + epsilon)   # Keras ("epsilon hat")
    eff = learning_rate / sqrt(v / (1 - beta_2**t) + epsilon)         # epsilon_inside_sqrt
    eff = learning_rate / (sqrt(v) + epsilon)    # bias_correction=False: step = eff * m
    ```

    `v` is AMSGrad's running maximum when `amsgrad=True`. Our centered RMSprop clamps
    `velocity - average_gradient**2` at 0 (float32 rounding can make it negative); Keras's
    does not. Returns None for optimizers without a per-parameter rate (SGD and others).
    `read` turns a slot variable into a numpy array (default: `keras.ops.convert_to_numpy`).
    """
    read = read or keras.ops.convert_to_numpy
    name = family(optimizer)
    if name in (None, "sgd"):
        return None
    optimizer = base_optimizer(optimizer)
    found = slots(optimizer)
    epsilon = optimizer.epsilon
    inside = epsilon_inside_sqrt(optimizer)

    def denominator(second_moment):
        if inside:
            return np.sqrt(second_moment + epsilon)
        return np.sqrt(second_moment) + epsilon

    if name == "adagrad":
        return [learning_rate / denominator(np.float64(read(a))) for a in found[ACCUMULATOR]]
    if name == "rmsprop":
        rates = []
        for index, velocity in enumerate(found[SECOND_MOMENT]):
            second_moment = np.float64(read(velocity))
            if optimizer.centered:
                second_moment = second_moment - np.float64(read(found[AVERAGE_GRADIENT][index])) ** 2
                if isinstance(optimizer, RMSprop):  # ours clamps rounding below 0
                    second_moment = np.maximum(second_moment, 0.0)
            rates.append(learning_rate / denominator(second_moment))
        return rates
    second_moments = found[MAX_SECOND_MOMENT] if optimizer.amsgrad else found[SECOND_MOMENT]
    correction = 1.0 - optimizer.beta_2**step
    rates = []
    for v in second_moments:
        v = np.float64(read(v))
        if not getattr(optimizer, "bias_correction", True):
            rates.append(learning_rate / denominator(v))
        elif not inside:
            rates.append(learning_rate * np.sqrt(correction) / (np.sqrt(v) + epsilon))
        else:
            rates.append(learning_rate / np.sqrt(v / correction + epsilon))
    return rates


def _as_float(value):
    try:
        return float(value)  # ~40 us for a TensorFlow variable, convert_to_numpy ~220 us
    except TypeError:  # a MirroredVariable
        return float(keras.ops.convert_to_numpy(value))


def number_hyperparameters(optimizer, names):
    """`{name: float}` for those of `names` (e.g. "momentum", "beta_1", "rho") the optimizer
    holds as a plain number (bool excluded)."""
    optimizer = base_optimizer(optimizer)
    values = {}
    for name in names:
        value = getattr(optimizer, name, None)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            values[name] = float(value)
    return values
