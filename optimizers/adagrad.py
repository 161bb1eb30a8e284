"""AdaGrad: per-parameter learning rates from the history of squared gradients."""

import keras
from keras import ops

from optimizers.base_arguments import document_base_arguments
from optimizers.hyperparameters import HoldsHyperparameters, Hyperparameter, term
from optimizers.validation import (
    check_bool,
    check_learning_rate,
    check_non_negative,
)


@keras.saving.register_keras_serializable(package="optimizers")
@document_base_arguments
class Adagrad(HoldsHyperparameters, keras.optimizers.Optimizer):
    """AdaGrad: divide each parameter's step by the root of its summed squared gradients.

    The update rule, per variable:

    ```python
    accumulator += gradient ** 2        # the notes' "cache"
    if epsilon_inside_sqrt:             # Keras's form (default)
        variable -= learning_rate * gradient / sqrt(accumulator + epsilon)
    else:                               # the notes' and Duchi et al.'s form
        variable -= learning_rate * gradient / (sqrt(accumulator) + epsilon)
    ```

    The accumulator only grows, so every parameter's effective step
    `learning_rate / sqrt(accumulator)` only shrinks: parameters with large gradients slow down
    first, and over a long run learning can stall (RMSprop replaces the sum by a decaying mean).

    Conventions a reader could get wrong:
    - The accumulator starts at `initial_accumulator_value` (Keras: 0.1), not at zero as in the
      notes and the paper; pass `initial_accumulator_value=0.0, epsilon_inside_sqrt=False` for
      the notes' exact form.
    - Keras puts epsilon inside the square root, the notes outside. Inside, the very first
      step with a zero accumulator is `gradient / sqrt(gradient**2 + epsilon)`, about `sign(gradient)`.
    - A sparse gradient (an Embedding's `tf.IndexedSlices`, one slice per lookup, so a row
      looked up twice comes twice) is summed into a dense gradient first. Keras 3's built-in
      squares each repeat separately; on dense gradients the two are bit-identical.

    Args:
        learning_rate: A non-negative float or int, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable taking no
            arguments. Defaults to `0.001`.
        initial_accumulator_value: float >= 0, starting value of the accumulators.
            Defaults to `0.1`.
        epsilon: float >= 0, keeps the division finite (0 is allowed, as in Keras). Defaults to `1e-7`.
        epsilon_inside_sqrt: bool, see above. Defaults to `True` (Keras).
        name: String, or `None` (default) for Keras's unique automatic name: `"adagrad"`,
            then `"adagrad_1"`, ...
        **kwargs: Keras's base optimizer arguments, listed at the end.

    References:
        - [Duchi et al., 2011](http://www.jmlr.org/papers/volume12/duchi11a/duchi11a.pdf).
    """

    epsilon = Hyperparameter(check_non_negative)

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        *,
        epsilon_inside_sqrt=True,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=check_learning_rate(learning_rate), name=name, **kwargs)
        self.initial_accumulator_value = check_non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = epsilon
        self.epsilon_inside_sqrt = check_bool("epsilon_inside_sqrt", epsilon_inside_sqrt)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list,
            "accumulator",
            initializer=keras.initializers.Constant(self.initial_accumulator_value),
        )

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        # An Embedding's gradient is a sparse tf.IndexedSlices with one slice per lookup, so a
        # row looked up twice comes twice; reshaping makes it dense, repeats summed, and the
        # squares below are of the gradient, not of its pieces ((a + b)**2, not a**2 + b**2).
        gradient = ops.reshape(gradient, variable.shape)
        accumulator = self._accumulators[self._get_variable_index(variable)]

        self.assign_add(accumulator, ops.square(gradient))
        epsilon = term(self, "epsilon", variable.dtype)
        if self.epsilon_inside_sqrt:
            denominator = ops.sqrt(ops.add(accumulator, epsilon))
        else:
            denominator = ops.add(ops.sqrt(accumulator), epsilon)
        self.assign_sub(
            variable, ops.divide(ops.multiply(learning_rate, gradient), denominator)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon,
                "epsilon_inside_sqrt": self.epsilon_inside_sqrt,
            }
        )
        return config
