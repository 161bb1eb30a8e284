"""Adam: momentum and RMSprop together, with bias correction."""

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
class Adam(HoldsHyperparameters, keras.optimizers.Optimizer):
    """Adam: an EMA of gradients (momentum) divided by the root of an EMA of their squares.

    The update rule, per variable, at step `t = iterations + 1`:

    ```python
    m += (1 - beta_1) * (gradient - m)         # m = beta_1 * m + (1 - beta_1) * gradient
    v += (1 - beta_2) * (gradient ** 2 - v)    # v = beta_2 * v + (1 - beta_2) * gradient ** 2
    if amsgrad:
        v_max = maximum(v_max, v)
        v = v_max
    if not bias_correction:
        variable -= learning_rate * m / (sqrt(v) + epsilon)        # inside: sqrt(v + epsilon)
    elif not epsilon_inside_sqrt:              # Keras's form (default): "epsilon hat"
        step_size = learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        variable -= step_size * m / (sqrt(v) + epsilon)
    else:                                      # the notes' form
        m_hat = m / (1 - beta_1 ** t)
        v_hat = v / (1 - beta_2 ** t)
        variable -= learning_rate * m_hat / sqrt(v_hat + epsilon)
    ```

    Conventions a reader could get wrong:
    - `m` and `v` start at zero, which biases them towards zero in the first steps; the bias
      correction divides by `1 - beta ** t` to undo it (the notes: "speeding up training in
      the initial stages"). `bias_correction=False` shows what happens without it.
    - Keras (default) folds the correction into the step size and adds epsilon to `sqrt(v)`:
      this is Kingma & Ba's "epsilon hat" (the formula before their Section 2.1). Their
      Algorithm 1 (and PyTorch) add epsilon to `sqrt(v_hat)` instead; the Keras form equals
      that with epsilon replaced by `epsilon / sqrt(1 - beta_2 ** t)`, larger in the first
      steps. The notes put it inside the root: `sqrt(v_hat + eps)`.
    - With `beta_1=0` (and no AMSGrad) Adam is RMSprop with `rho=beta_2` whose cache is
      bias-corrected (exactly so with `epsilon_inside_sqrt=True`; the default form's epsilon
      is then `epsilon / sqrt(1 - beta_2 ** t)`). With `bias_correction=False` as well, it is
      RMSprop with the same epsilon placement: Adam's default matches
      `RMSprop(epsilon_inside_sqrt=False)`, not RMSprop's default.
    - AMSGrad keeps the running maximum of the uncorrected `v`, as Keras does.
    - As in Keras, `1 - beta_2 ** t` is computed in the variable's dtype: in float32, with
      `beta_2 = 0.999`, the cancellation costs about 1e-5 of relative accuracy in the step
      size (float64 arithmetic of the same formula differs by that much, not by 1e-7).
    - A sparse gradient (an Embedding's `tf.IndexedSlices`, one slice per lookup, so a row
      looked up twice comes twice) is summed into a dense gradient first. Keras 3's built-in
      squares each repeat separately; on dense gradients the two are bit-identical.

    Args:
        learning_rate: A non-negative float or int, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable taking no
            arguments. Defaults to `0.001`.
        beta_1: float in [0, 1), decay rate of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay rate of the second moment. Defaults to `0.999`.
        epsilon: float >= 0, keeps the division finite (0 is allowed, as in Keras). Defaults to `1e-7`.
        amsgrad: bool, whether to apply AMSGrad. Defaults to `False`.
        bias_correction: bool, whether to divide the moments by `1 - beta ** t`.
            Defaults to `True`.
        epsilon_inside_sqrt: bool, see above. Defaults to `False` (Keras).
        name: String, or `None` (default) for Keras's unique automatic name: `"adam"`,
            then `"adam_1"`, ...
        **kwargs: Keras's base optimizer arguments, listed at the end.

    References:
        - [Kingma & Ba, 2014](http://arxiv.org/abs/1412.6980).
        - [Reddi et al., 2019](https://openreview.net/pdf?id=ryQu7f-RZ) for AMSGrad.
    """

    beta_1 = Hyperparameter(check_unit_interval, terms=lambda beta: {"beta_1": beta, "one_minus_beta_1": 1 - beta})
    beta_2 = Hyperparameter(check_unit_interval, terms=lambda beta: {"beta_2": beta, "one_minus_beta_2": 1 - beta})
    epsilon = Hyperparameter(check_non_negative)

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        *,
        bias_correction=True,
        epsilon_inside_sqrt=False,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=check_learning_rate(learning_rate), name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = check_bool("amsgrad", amsgrad)
        self.bias_correction = check_bool("bias_correction", bias_correction)
        self.epsilon_inside_sqrt = check_bool("epsilon_inside_sqrt", epsilon_inside_sqrt)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        self._velocity_hats = []
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        # An Embedding's gradient is a sparse tf.IndexedSlices with one slice per lookup, so a
        # row looked up twice comes twice; reshaping makes it dense, repeats summed, and the
        # squares below are of the gradient, not of its pieces ((a + b)**2, not a**2 + b**2).
        gradient = ops.reshape(gradient, variable.shape)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]

        one_minus_beta_1 = term(self, "one_minus_beta_1", variable.dtype)
        one_minus_beta_2 = term(self, "one_minus_beta_2", variable.dtype)
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), one_minus_beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), one_minus_beta_2))
        if self.amsgrad:
            v_max = self._velocity_hats[index]
            self.assign(v_max, ops.maximum(v_max, v))
            v = v_max

        if not self.bias_correction:
            numerator = ops.multiply(learning_rate, m)
            self.assign_sub(variable, ops.divide(numerator, self._denominator(v)))
            return
        t = ops.cast(self.iterations + 1, variable.dtype)
        beta_1_power = ops.power(term(self, "beta_1", variable.dtype), t)
        beta_2_power = ops.power(term(self, "beta_2", variable.dtype), t)
        if not self.epsilon_inside_sqrt:
            step_size = learning_rate * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            self.assign_sub(variable, ops.divide(ops.multiply(m, step_size), self._denominator(v)))
        else:
            m_hat = ops.divide(m, 1 - beta_1_power)
            v_hat = ops.divide(v, 1 - beta_2_power)
            numerator = ops.multiply(learning_rate, m_hat)
            self.assign_sub(variable, ops.divide(numerator, self._denominator(v_hat)))

    def _denominator(self, second_moment):
        epsilon = term(self, "epsilon", second_moment.dtype)
        if self.epsilon_inside_sqrt:
            return ops.sqrt(ops.add(second_moment, epsilon))
        return ops.add(ops.sqrt(second_moment), epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
                "bias_correction": self.bias_correction,
                "epsilon_inside_sqrt": self.epsilon_inside_sqrt,
            }
        )
        return config
