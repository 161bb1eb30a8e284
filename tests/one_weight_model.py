"""A one-weight model whose loss is its prediction: every gradient is exactly 1, so each SGD
update is -learning_rate and the rate actually applied can be read off the weight's changes."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="tests")
def prediction_loss(y_true, y_pred):
    return ops.mean(y_pred)


def one_weight_model(optimizer, loss=prediction_loss, jit_compile=False):
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)
    return model


class KernelRecorder(keras.callbacks.Callback):
    """The weight after every step, starting from its initial 0."""

    def __init__(self):
        super().__init__()
        self.kernels = [0.0]

    def on_train_batch_end(self, batch, logs=None):
        self.kernels.append(float(self.model.layers[0].kernel.numpy()[0, 0]))

    def applied_learning_rates(self):
        return -np.diff(self.kernels)
