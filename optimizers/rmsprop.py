"""RMSprop: per-parameter learning rates from a decaying mean of squared gradients."""

import keras
from keras import ops

from optimizers.base_arguments import document_base_arguments
from optimizers.hyperparameters import HoldsHyperparameters, Hyperparameter, term
from optimizers.validation import (
    check_bool,
    check_learning_rate,
    check_non_negative,
    check_unit_interval,
)


@keras.saving.register_keras_serializable(package="optimizers")
@document_base_arguments
class RMSprop(HoldsHyperparameters, keras.optimizers.Optimizer):
    """RMSprop: divide each step by the root of an exponentially weighted mean of squared gradients.

    The update rule, per variable:

    ```python
    velocity = rho * velocity + (1 - rho) * gradient ** 2      # the notes' "cache", S_dw
    if centered:
        average_gradient = rho * average_gradient + (1 - rho) * gradient
        denominator = max(velocity - average_gradient ** 2, 0)  # a variance estimate
    else:
        denominator = velocity
    if epsilon_inside_sqrt:                                     # Keras's form (default)
        increment = learning_rate * gradient / sqrt(denominator + epsilon)
    else:                                                       # the notes' form
        increment = learning_rate * gradient / (sqrt(denominator) + epsilon)
    if momentum > 0:
        momentum_buffer = momentum * momentum_buffer + increment
        variable -= momentum_buffer
    else:
        variable -= increment
    ```

    Conventions a reader could get wrong:
    - `velocity` starts at zero and is not bias-corrected, so the first steps are larger than
      later ones by about `1 / sqrt(1 - rho)` (Adam corrects this; see `Adam(beta_1=0)`).
    - Keras puts epsilon inside the square root; the notes (and PyTorch) outside.
    - The momentum buffer holds learning-rate-scaled increments (Keras's form), as in
      PyTorch's RMSprop.
    - A sparse gradient (an Embedding's `tf.IndexedSlices`, one slice per lookup, so a row
      looked up twice comes twice) is summed into a dense gradient first. Keras 3's built-in
      squares each repeat separately; on dense gradients the two are bit-identical.

    Args:
        learning_rate: A non-negative float or int, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable taking no
            arguments. Defaults to `0.001`.
        rho: float in [0, 1), decay rate of the mean of squared gradients. Defaults to `0.9`.
        momentum: float in [0, 1). Defaults to `0.0`.
        epsilon: float >= 0, keeps the division finite (0 is allowed, as in Keras). Defaults to `1e-7`.
        centered: bool; if True, normalize by an estimate of the gradient's variance instead
            of its second moment. Defaults to `False`.
        epsilon_inside_sqrt: bool, see above. Defaults to `True` (Keras).
        name: String, or `None` (default) for Keras's unique automatic name: `"rm_sprop"`,
            then `"rm_sprop_1"`, ...
        **kwargs: Keras's base optimizer arguments, listed at the end.

    References:
        - Hinton, 2012, [Lecture 6e of "Neural Networks for Machine Learning"](
          http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf).
        - [Graves, 2013](https://arxiv.org/abs/1308.0850) (the centered variant).
    """

    rho = Hyperparameter(check_unit_interval, terms=lambda rho: {"rho": rho, "one_minus_rho": 1 - rho})
    momentum = Hyperparameter(check_unit_interval)
    epsilon = Hyperparameter(check_non_negative)

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        *,
        epsilon_inside_sqrt=True,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=check_learning_rate(learning_rate), name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = check_bool("centered", centered)
        self.epsilon_inside_sqrt = check_bool("epsilon_inside_sqrt", epsilon_inside_sqrt)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        # An Embedding's gradient is a sparse tf.IndexedSlices with one slice per lookup, so a
        # row looked up twice comes twice; reshaping makes it dense, repeats summed, and the
        # squares below are of the gradient, not of its pieces ((a + b)**2, not a**2 + b**2).
        gradient = ops.reshape(gradient, variable.shape)
        index = self._get_variable_index(variable)
        rho = term(self, "rho", variable.dtype)
        one_minus_rho = term(self, "one_minus_rho", variable.dtype)

        velocity = self._velocities[index]
        self.assign(
            velocity,
            ops.add(ops.multiply(rho, velocity), ops.multiply(one_minus_rho, ops.square(gradient))),
        )
        if self.centered:
            average_gradient = self._average_gradients[index]
            self.assign(
                average_gradient,
                ops.add(ops.multiply(rho, average_gradient), ops.multiply(one_minus_rho, gradient)),
            )
            # Rounding can push the variance estimate a hair below zero; its square root
            # would then be NaN in the epsilon-outside form.
            denominator = ops.maximum(ops.subtract(velocity, ops.square(average_gradient)), 0.0)
        else:
            denominator = velocity
        epsilon = term(self, "epsilon", variable.dtype)
        if self.epsilon_inside_sqrt:
            denominator = ops.sqrt(ops.add(denominator, epsilon))
        else:
            denominator = ops.add(ops.sqrt(denominator), epsilon)
        increment = ops.divide(ops.multiply(learning_rate, gradient), denominator)
        if self.momentum > 0:
            momentum_buffer = self._momentums[index]
            momentum = term(self, "momentum", variable.dtype)
            self.assign(momentum_buffer, ops.add(ops.multiply(momentum, momentum_buffer), increment))
            self.assign_sub(variable, momentum_buffer)
        else:
            self.assign_sub(variable, increment)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
                "epsilon_inside_sqrt": self.epsilon_inside_sqrt,
            }
        )
        return config
