"""The learning-rate range test, against a float64 simulation of the same runs."""

import keras
import numpy as np
import pytest

from callbacks.lr_range_test import SKIP_START, lr_range_test
from optimizers import SGD, Adam
from optimizers.introspection import learning_rate_object, state_variables
from optimizers.schedules import CosineDecay, Warmup

pytestmark = pytest.mark.all_backends


def _regression_data():
    """y = 3 x + noise with x = +-1: the MSE of y ~ w x is a parabola in the one weight w."""
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(32, 1)).astype("float32")
    y = (3.0 * x + rng.normal(size=(32, 1))).astype("float32")
    return x, y


def _one_weight_model(optimizer):
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def simulate(x, y, batch_size, learning_rates):
    """Float64 SGD on the MSE, batches in order: the loss of each batch before its update."""
    x, y = x[:, 0].astype(np.float64), y[:, 0].astype(np.float64)
    w, losses = 0.0, []
    for i, lr in enumerate(learning_rates):
        start = (i * batch_size) % len(x)
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        losses.append(np.mean((w * xb - yb) ** 2))
        w -= lr * np.mean(2 * xb * (w * xb - yb))
    return np.array(losses)


def smooth(losses, beta):
    average, smoothed = 0.0, []
    for i, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** (i + 1)))
    return np.array(smoothed)


def test_curve_is_exponential_in_lr_and_stops_when_the_loss_blows_up():
    x, y = _regression_data()
    model = _one_weight_model(SGD(0.01))
    result = lr_range_test(model, x, y, batch_size=8, min_lr=1e-3, max_lr=10.0, num_steps=100)

    full_schedule = 1e-3 * (10.0 / 1e-3) ** (np.arange(100) / 99)
    # Past lr = 1, |1 - 2 lr| > 1 and each step multiplies the error: the test stops early.
    steps = len(result.losses)
    assert result.stopped_early and steps < 100
    np.testing.assert_allclose(result.learning_rates, full_schedule[:steps], rtol=1e-12)
    # The loss each rate produced is the simulated one: the rates were really applied.
    expected_losses = simulate(x, y, 8, full_schedule[:steps])
    np.testing.assert_allclose(result.losses, expected_losses, rtol=1e-4, atol=1e-5)
    smoothed = smooth(expected_losses, 0.98)
    np.testing.assert_allclose(result.smoothed_losses, smoothed, rtol=1e-4)
    # It stopped at the first step whose smoothed loss exceeds 4x the best so far.
    exceeds = smoothed > 4 * np.minimum.accumulate(smoothed)
    assert np.argmax(exceeds) == steps - 1
    assert full_schedule[steps - 1] > 1.0


def test_suggestions_read_the_smoothed_curve():
    x, y = _regression_data()
    result = lr_range_test(
        _one_weight_model(SGD(0.01)), x, y, batch_size=8, min_lr=1e-3, max_lr=10.0, num_steps=100
    )
    valley = int(np.argmin(result.smoothed_losses))
    assert result.min_loss_learning_rate == result.learning_rates[valley]
    assert result.suggested_learning_rate == pytest.approx(result.learning_rates[valley] / 10)
    # Steepest: the most negative finite difference against log(lr), after the first points.
    segment = slice(SKIP_START, valley + 1)
    slopes = np.gradient(result.smoothed_losses[segment], np.log(result.learning_rates[segment]))
    assert result.steepest_learning_rate == result.learning_rates[segment][np.argmin(slopes)]
    # On this parabola SGD diverges past lr = 1 and is best near 0.5: sane readings.
    assert 0.05 < result.suggested_learning_rate < 0.5 < result.min_loss_learning_rate < 2.0


def _model_with_state(optimizer):
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _snapshot(model):
    return (
        [keras.ops.convert_to_numpy(v) for v in model.variables],
        [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables],
    )


def _assert_same_state(model, snapshot):
    weights, optimizer_variables = _snapshot(model)
    assert len(weights) == len(snapshot[0]) and len(optimizer_variables) == len(snapshot[1])
    for now, before in zip(weights + optimizer_variables, snapshot[0] + snapshot[1]):
        np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: Adam(0.01),
        lambda: SGD(Warmup(CosineDecay(0.05, decay_steps=20), warmup_steps=3), momentum=0.9),
    ],
    ids=["adam_number_lr", "sgd_warmup_schedule"],
)
def test_weights_and_optimizer_state_are_restored_exactly(make_optimizer):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")

    def trained_twice(run_range_test):
        keras.utils.set_random_seed(3)
        model = _model_with_state(make_optimizer())
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        if run_range_test:
            snapshot = _snapshot(model)
            rate, train_function = learning_rate_object(model.optimizer), model.train_function
            result = lr_range_test(model, x, y, batch_size=16, max_lr=1e3, num_steps=60)
            assert result.stopped_early  # It trained, up to a blow-up.
            _assert_same_state(model, snapshot)
            assert learning_rate_object(model.optimizer) is rate
            assert model.train_function is train_function
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        return _snapshot(model)

    # Training after the test is bit for bit the training without it.
    without, with_test = trained_twice(False), trained_twice(True)
    for a, b in zip(without[0] + without[1], with_test[0] + with_test[1]):
        np.testing.assert_array_equal(a, b)


def test_schedule_is_replaced_by_the_test_rates_during_the_test():
    x, y = _regression_data()
    scheduled = _one_weight_model(SGD(Warmup(CosineDecay(0.05, 20), warmup_steps=3)))
    plain = _one_weight_model(SGD(0.05))
    kwargs = dict(batch_size=8, min_lr=1e-3, max_lr=10.0, num_steps=100)
    np.testing.assert_array_equal(
        lr_range_test(scheduled, x, y, **kwargs).losses, lr_range_test(plain, x, y, **kwargs).losses
    )


def test_unbuilt_optimizer_is_left_freshly_built():
    x, y = _regression_data()
    model = _one_weight_model(Adam(0.01))
    assert not model.optimizer.built
    lr_range_test(model, x, y, batch_size=8, num_steps=20)
    assert model.optimizer.built
    assert int(model.optimizer.iterations) == 0
    for slot in state_variables(model.optimizer):  # every slot (not the rate or the betas)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(slot), 0.0)
    np.testing.assert_array_equal(model.get_weights()[0], 0.0)


def test_iterable_of_batches_gives_the_same_curve_as_arrays():
    x, y = _regression_data()
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    kwargs = dict(min_lr=1e-3, max_lr=1.0, num_steps=12)
    from_arrays = lr_range_test(_one_weight_model(SGD()), x, y, batch_size=8, **kwargs)
    from_batches = lr_range_test(_one_weight_model(SGD()), batches, **kwargs)
    np.testing.assert_array_equal(from_arrays.losses, from_batches.losses)


def test_plot_is_saved(tmp_path):
    x, y = _regression_data()
    path = tmp_path / "lr_find.png"
    lr_range_test(_one_weight_model(SGD()), x, y, batch_size=8, num_steps=30, plot_path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_lr": 0.0}, r"`min_lr` must be > 0. Received: min_lr=0.0"),
        ({"min_lr": 1.0, "max_lr": 1.0}, r"`max_lr` must be > min_lr=1.0. Received: max_lr=1.0"),
        ({"num_steps": 1}, r"`num_steps` must be >= 2. Received: num_steps=1"),
        ({"num_steps": 10.0}, r"`num_steps` must be an integer > 0"),
        ({"batch_size": 0}, r"`batch_size` must be an integer > 0"),
        ({"smoothing": 1.0}, r"`smoothing` must be in \[0, 1\)"),
        ({"divergence_factor": 1.0}, r"`divergence_factor` must be > 1"),
        ({"plot_path": 5}, r"`plot_path` must be a file path or None"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    x, y = _regression_data()
    with pytest.raises(ValueError, match=message):
        lr_range_test(_one_weight_model(SGD()), x, y, **kwargs)


def test_uncompiled_model_raises():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    x, y = _regression_data()
    with pytest.raises(ValueError, match=r"`model` must be a compiled Keras model"):
        lr_range_test(model, x, y)
