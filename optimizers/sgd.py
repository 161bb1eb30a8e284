"""Stochastic gradient descent with optional momentum and Nesterov momentum."""

import keras
from keras import ops

from optimizers.base_arguments import document_base_arguments
from optimizers.hyperparameters import HoldsHyperparameters, Hyperparameter, term
from optimizers.validation import check_bool, check_choice, check_keras_sgd_momentum, check_learning_rate

MOMENTUM_FORMS = ("keras", "ema")


@keras.saving.register_keras_serializable(package="optimizers")
@document_base_arguments
class SGD(HoldsHyperparameters, keras.optimizers.Optimizer):
    """Mini-batch stochastic gradient descent, with momentum and Nesterov momentum.

    The update rule, per variable (`momentum_form="keras"`, the default, as Keras and the
    notes' first form: keep a fraction of the previous update, subtract the scaled gradient):

    ```python
    velocity = momentum * velocity - learning_rate * gradient
    if nesterov:
        variable += momentum * velocity - learning_rate * gradient
    else:
        variable += velocity
    ```

    With `momentum_form="ema"`, the notes' exponentially weighted average of the gradients
    (Ng's "gradient descent with momentum"; the learning rate sits outside the buffer):

    ```python
    velocity = momentum * velocity + (1 - momentum) * gradient
    if nesterov:
        variable -= learning_rate * (momentum * velocity + (1 - momentum) * gradient)
    else:
        variable -= learning_rate * velocity
    ```

    With `momentum=0` both forms are plain SGD, `variable -= learning_rate * gradient`, and no
    velocity is stored.

    Conventions a reader could get wrong:
    - The velocity starts at zero.
    - In the Keras form the learning rate is inside the buffer: a change of learning rate
      (a schedule) acts only on new gradients. In the EMA form it scales the whole buffer.
    - At a constant learning rate the EMA form's steps are `(1 - momentum)` times the Keras
      form's: EMA with `learning_rate=lr` matches Keras with `learning_rate=lr * (1 - momentum)`.
      PyTorch's form (`velocity = momentum * velocity + gradient; variable -= lr * velocity`)
      equals the Keras form at a constant learning rate.

    Args:
        learning_rate: A non-negative float or int, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable taking no
            arguments. Defaults to `0.01`.
        momentum: float in [0, 1], as Keras: a Python float (`momentum=0` is refused, as by
            Keras; NaN too), 1 included (the Keras form then never forgets, the EMA form
            never learns). Defaults to `0.0` (plain SGD). Refused with Keras's
            `ValueError("`momentum` must be a float between [0, 1].")`.
        nesterov: bool, whether to use Nesterov momentum. Defaults to `False`.
        momentum_form: `"keras"` or `"ema"`, see above. Defaults to `"keras"`.
        name: String, or `None` (default) for Keras's unique automatic name: `"sgd"`,
            then `"sgd_1"`, ...
        **kwargs: Keras's base optimizer arguments, listed at the end.

    References:
        - Polyak, 1964, "Some methods of speeding up the convergence of iteration methods".
        - [Sutskever et al., 2013](http://proceedings.mlr.press/v28/sutskever13.html)
          (momentum and Nesterov momentum in deep learning).
    """

    momentum = Hyperparameter(check_keras_sgd_momentum)

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        *,
        momentum_form="keras",
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=check_learning_rate(learning_rate), name=name, **kwargs)
        self.momentum = momentum
        self.nesterov = check_bool("nesterov", nesterov)
        self.momentum_form = check_choice("momentum_form", momentum_form, MOMENTUM_FORMS)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.momentum == 0:
            self.assign_sub(variable, ops.multiply(learning_rate, gradient))
            return

        momentum = term(self, "momentum", variable.dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        if self.momentum_form == "keras":
            scaled_gradient = ops.multiply(learning_rate, gradient)
            self.assign(velocity, ops.subtract(ops.multiply(momentum, velocity), scaled_gradient))
            if self.nesterov:
                self.assign_add(
                    variable, ops.subtract(ops.multiply(momentum, velocity), scaled_gradient)
                )
            else:
                self.assign_add(variable, velocity)
        else:
            weighted_gradient = ops.multiply(1 - momentum, gradient)
            self.assign(velocity, ops.add(ops.multiply(momentum, velocity), weighted_gradient))
            if self.nesterov:
                lookahead = ops.add(ops.multiply(momentum, velocity), weighted_gradient)
                self.assign_sub(variable, ops.multiply(learning_rate, lookahead))
            else:
                self.assign_sub(variable, ops.multiply(learning_rate, velocity))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "nesterov": self.nesterov,
                "momentum_form": self.momentum_form,
            }
        )
        return config
