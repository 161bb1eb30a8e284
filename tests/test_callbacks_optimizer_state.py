"""OptimizerStateStatistics against the optimizers' equations replayed here in float64 numpy on
gradients computed here in float64 numpy (full batch, so each step's gradient is known exactly).
Backend-independent: runs on TensorFlow, JAX and torch."""

import warnings

import keras
import numpy as np
import pytest
from reference_gradients import dense_layers, mse_gradients
from test_callbacks_events import read_run, scalars, series, small_regression

import optimizers
from callbacks import variable_reads
from callbacks.optimizer_state import OptimizerStateStatistics

pytestmark = pytest.mark.all_backends

STEPS = 3
LR = 0.05
NAMES = ["dense/kernel", "dense/bias"]


class GradientRecorder(keras.callbacks.Callback):
    """Each step's full-batch gradient at the weights the step begins from (float64)."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.gradients = x, y, []

    def on_train_batch_begin(self, batch, logs=None):
        self.gradients.append(mse_gradients(dense_layers(self.model), self.x, self.y))


def train(optimizer, log_dir, **kwargs):
    x, y = small_regression(n=16)
    y = np.concatenate([y, -y], axis=1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, bias_initializer="ones")])
    model.compile(optimizer=optimizer, loss="mse")
    recorder = GradientRecorder(x, y)
    statistics = OptimizerStateStatistics(log_dir, log_every_n_steps=1, **kwargs)
    model.fit(x, y, batch_size=16, epochs=STEPS, shuffle=False, verbose=0, callbacks=[recorder, statistics])
    return recorder.gradients, statistics


def adagrad(gradients, initial=0.1, eps=1e-7, inside=True):
    accumulators = [
        np.full_like(g, initial) + sum(step[i] ** 2 for step in gradients) for i, g in enumerate(gradients[0])
    ]
    if inside:
        return [LR / np.sqrt(a + eps) for a in accumulators]
    return [LR / (np.sqrt(a) + eps) for a in accumulators]


def rmsprop(gradients, rho=0.9, eps=1e-7, inside=True, centered=False):
    rates = []
    for i in range(len(gradients[0])):
        v = a = 0.0
        for step in gradients:
            v = rho * v + (1 - rho) * step[i] ** 2
            a = rho * a + (1 - rho) * step[i]
        second = np.maximum(v - a**2, 0.0) if centered else v
        rates.append(LR / np.sqrt(second + eps) if inside else LR / (np.sqrt(second) + eps))
    return rates


def adam(gradients, b1=0.9, b2=0.999, eps=1e-7, inside=False, bias_correction=True, amsgrad=False):
    t = len(gradients)
    rates = []
    for i in range(len(gradients[0])):
        v = v_max = 0.0
        for step in gradients:
            v = b2 * v + (1 - b2) * step[i] ** 2
            v_max = np.maximum(v_max, v)
        v = v_max if amsgrad else v
        if not bias_correction:
            rates.append(LR / (np.sqrt(v) + eps))
        elif inside:  # step = lr * m_hat / sqrt(v_hat + eps)
            rates.append(LR / np.sqrt(v / (1 - b2**t) + eps))
        else:  # Keras: step = lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
            rates.append(LR * np.sqrt(1 - b2**t) / (np.sqrt(v) + eps))
    return rates


CASES = {
    "adagrad": (lambda: optimizers.Adagrad(LR), adagrad),
    "adagrad_notes": (
        lambda: optimizers.Adagrad(LR, initial_accumulator_value=0.0, epsilon_inside_sqrt=False),
        lambda g: adagrad(g, initial=0.0, inside=False),
    ),
    "keras_adagrad": (lambda: keras.optimizers.Adagrad(LR), adagrad),
    "rmsprop": (lambda: optimizers.RMSprop(LR), rmsprop),
    "rmsprop_notes": (
        lambda: optimizers.RMSprop(LR, epsilon_inside_sqrt=False),
        lambda g: rmsprop(g, inside=False),
    ),
    "rmsprop_centered": (lambda: optimizers.RMSprop(LR, centered=True), lambda g: rmsprop(g, centered=True)),
    "keras_rmsprop": (lambda: keras.optimizers.RMSprop(LR), rmsprop),
    "adam": (lambda: optimizers.Adam(LR), adam),
    "adam_notes": (lambda: optimizers.Adam(LR, epsilon_inside_sqrt=True), lambda g: adam(g, inside=True)),
    "adam_no_bias_correction": (
        lambda: optimizers.Adam(LR, bias_correction=False),
        lambda g: adam(g, bias_correction=False),
    ),
    "adam_amsgrad": (lambda: optimizers.Adam(LR, amsgrad=True), lambda g: adam(g, amsgrad=True)),
    "keras_adam": (lambda: keras.optimizers.Adam(LR), adam),
    "keras_adamw": (lambda: keras.optimizers.AdamW(LR), adam),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_effective_learning_rates_match_the_replayed_equations(tmp_path, case):
    make_optimizer, equations = CASES[case]
    gradients, statistics = train(make_optimizer(), tmp_path, quantiles=(0.0, 0.5, 0.9))
    expected = equations(gradients)
    latest = statistics.latest
    assert latest["step"] == STEPS and latest["learning_rate"] == pytest.approx(LR)
    for name, rates in zip(NAMES, expected):
        assert latest["median_by_variable"][name] == pytest.approx(np.median(rates), rel=1e-4)
    every = np.concatenate([r.reshape(-1) for r in expected])
    run = read_run(tmp_path)
    for q, tag in ((0.0, "p0"), (0.5, "p50"), (0.9, "p90")):
        value = np.quantile(every, q)
        assert latest["quantiles"][q] == pytest.approx(value, rel=1e-4)
        assert scalars(run, f"effective_learning_rate/{tag}")[STEPS] == pytest.approx(value, rel=1e-4)
    histogram = series(run, "effective_learning_rate/log10/dense/kernel")[1]
    assert histogram[:, 2].sum() == 6  # step 1: all of the kernel's 3 x 2 rates
    if case.startswith("adagrad"):  # AdaGrad's rates only fall: the stalling the notes describe
        medians = scalars(run, "effective_learning_rate/p50")
        assert medians[1] > medians[2] > medians[3]


@pytest.mark.parametrize(
    "make_optimizer, momentum_form",
    [
        (lambda: optimizers.SGD(LR, momentum=0.9), "keras"),
        (lambda: keras.optimizers.SGD(LR, momentum=0.9), "keras"),
        (lambda: optimizers.SGD(LR, momentum=0.9, momentum_form="ema"), "ema"),
        (lambda: optimizers.Adam(LR), "adam"),
    ],
    ids=["sgd", "keras_sgd", "sgd_ema", "adam_first_moment"],
)
def test_momentum_buffer_norms_match_the_replayed_equations(tmp_path, make_optimizer, momentum_form):
    gradients, statistics = train(make_optimizer(), tmp_path)
    run = read_run(tmp_path)
    for index, name in enumerate(NAMES):
        buffer = 0.0
        for step, gradient in enumerate(gradients, start=1):
            g = gradient[index]
            if momentum_form == "keras":
                buffer = 0.9 * buffer - LR * g
            else:  # the notes' EMA, and Adam's m
                buffer = 0.9 * buffer + 0.1 * g
            logged = scalars(run, f"momentum/norm/{name}")[step]
            assert logged == pytest.approx(np.linalg.norm(buffer), rel=1e-5)
        assert statistics.latest["momentum_norms"][name] == pytest.approx(np.linalg.norm(buffer), rel=1e-5)


def test_adam_bias_correction_factors(tmp_path):
    train(optimizers.Adam(LR, beta_1=0.8, beta_2=0.99), tmp_path)
    run = read_run(tmp_path)
    for t in range(1, STEPS + 1):
        assert scalars(run, "optimizer/adam_bias_correction_m")[t] == pytest.approx(1 / (1 - 0.8**t))
        assert scalars(run, "optimizer/adam_bias_correction_v")[t] == pytest.approx(1 / (1 - 0.99**t))


def test_plain_sgd_and_unknown_optimizers_log_what_they_have(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, statistics = train(keras.optimizers.Adamax(LR), tmp_path)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "no effective learning rate for Adamax" in messages[0]
    assert statistics.latest["quantiles"] == {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, statistics = train(keras.optimizers.SGD(LR), tmp_path / "sgd")
    assert statistics.latest["momentum_norms"] == {} and statistics.latest["quantiles"] == {}
    # SGD's rate is the same for every parameter: expected, so no warning.
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"log_every_n_steps": 0}, "Argument `log_every_n_steps` must be an integer > 0"),
        ({"histogram_every_n_steps": 1.5}, "Argument `histogram_every_n_steps` must be"),
        ({"quantiles": ()}, "Argument `quantiles` must be a non-empty sequence"),
        ({"quantiles": 0.5}, "Argument `quantiles` must be a non-empty sequence"),
        ({"quantiles": (0.5, 1.5)}, r"Argument `quantiles` must be in \[0, 1\]"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OptimizerStateStatistics(**kwargs)


def test_a_second_fit_reuses_the_compiled_slot_reader(tmp_path):
    """The slot reader is compiled once per optimizer; a second fit of the same model reads the
    same values as a freshly compiled one."""
    x, y = small_regression()

    def fit_twice(forget_between):
        keras.backend.clear_session(free_memory=False)  # the same layer names both times
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=optimizers.Adam(LR), loss="mse")
        callbacks = []
        for _ in range(2):
            if forget_between:
                variable_reads.READERS.clear()
            statistics = OptimizerStateStatistics(log_every_n_steps=1)
            model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[statistics])
            callbacks.append(statistics)
        return callbacks

    first, second = fit_twice(forget_between=False)
    fresh_first, fresh_second = fit_twice(forget_between=True)
    assert second._read_slots is first._read_slots
    assert fresh_second._read_slots is not fresh_first._read_slots
    assert second.latest == fresh_second.latest and second.latest["step"] == 4
