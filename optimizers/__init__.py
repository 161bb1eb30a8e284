"""Keras 3 optimizers written from the course notes' equations, drop-in for `keras.optimizers.*`.

    from optimizers import SGD, Adagrad, RMSprop, Adam
    model.compile(optimizer=Adam(1e-3), loss="sparse_categorical_crossentropy")

Learning-rate schedules live in `optimizers.schedules`, as Keras's in `keras.optimizers.schedules`.
"""

from optimizers import schedules
from optimizers.adagrad import Adagrad
from optimizers.adam import Adam
from optimizers.rmsprop import RMSprop
from optimizers.sgd import SGD

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "schedules"]
