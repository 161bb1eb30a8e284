"""The optimizers inside Keras training: save/load continuation, XLA, and a digits MLP."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from optimizers import SGD, Adagrad, Adam, RMSprop


def exponential_decay():
    return keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)


# Variants with every slot their optimizer can have, and two with a schedule.
SAVE_LOAD_VARIANTS = {
    "sgd-ema-nesterov": lambda: SGD(0.05, momentum=0.9, nesterov=True, momentum_form="ema"),
    "adagrad-notes": lambda: Adagrad(
        0.1, initial_accumulator_value=0.0, epsilon=0.01, epsilon_inside_sqrt=False
    ),
    "rmsprop-centered-momentum": lambda: RMSprop(0.01, momentum=0.5, centered=True),
    "adam-amsgrad": lambda: Adam(0.01, amsgrad=True, epsilon_inside_sqrt=True),
    "sgd-schedule": lambda: SGD(exponential_decay(), momentum=0.9),
    "adam-schedule": lambda: Adam(exponential_decay(), use_ema=True),
}


def tiny_regression_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


def regression_batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")


@pytest.mark.all_backends
@pytest.mark.parametrize("variant", list(SAVE_LOAD_VARIANTS))
def test_save_load_restores_state_and_continues_identically(tmp_path, variant):
    model = tiny_regression_model()
    model.compile(optimizer=SAVE_LOAD_VARIANTS[variant](), loss="mse")
    x, y = regression_batch()
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")

    original, restored = model.optimizer, loaded.optimizer
    assert type(restored) is type(original)
    assert restored.get_config() == original.get_config()
    assert int(restored.iterations) == int(original.iterations) == 3
    # Slot variables are restored by position (their names carry the model's name prefix,
    # which differs between the two models).
    assert [v.shape for v in restored.variables] == [v.shape for v in original.variables]
    for a, b in zip(restored.variables, original.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
    # Not vacuous: the slots hold trained state, not their initial values.
    slots = [v for v in original.variables if v.name not in ("iteration", "learning_rate")]
    assert any(np.any(v.numpy() != 0) for v in slots)

    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(restored.variables, original.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)


JIT_VARIANTS = {
    "sgd": lambda: SGD(0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda: Adagrad(0.1),
    "rmsprop": lambda: RMSprop(0.01, momentum=0.5, centered=True, epsilon_inside_sqrt=False),
    "adam": lambda: Adam(0.01, amsgrad=True),
}


@pytest.mark.parametrize("variant", list(JIT_VARIANTS))
def test_fit_with_and_without_xla_agree(variant):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.integers(0, 3, size=32)
    first = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    initial = first.get_weights()
    final = {}
    for jit_compile in (False, True):
        model = keras.models.clone_model(first)
        model.set_weights(initial)
        model.compile(
            optimizer=JIT_VARIANTS[variant](),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        assert int(model.optimizer.iterations) == 8
        final[jit_compile] = model.get_weights()
    for a, b, start in zip(final[False], final[True], initial):
        assert not np.allclose(a, start)  # it trained
        # XLA fuses and reorders float32 arithmetic: equal to rounding, not bit for bit.
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def digits():
    """Standardized digits, 1347 training and 450 validation examples (a fixed split)."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(x_train)
    return (
        scaler.transform(x_train).astype("float32"),
        y_train,
        scaler.transform(x_val).astype("float32"),
        y_val,
    )


# Each optimizer at a learning rate a user would pick for it (not one shared rate).
DIGITS_OPTIMIZERS = {
    "sgd": lambda: SGD(0.05, momentum=0.9),
    "adagrad": lambda: Adagrad(0.05),
    "rmsprop": lambda: RMSprop(1e-3),
    "adam": lambda: Adam(1e-3),
}


@pytest.mark.parametrize("name", list(DIGITS_OPTIMIZERS))
def test_digits_mlp_reaches_ninety_percent(digits, name):
    x_train, y_train, x_val, y_val = digits
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=DIGITS_OPTIMIZERS[name](),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=10, validation_data=(x_val, y_val), verbose=0
    )
    assert history.history["val_accuracy"][-1] > 0.9
