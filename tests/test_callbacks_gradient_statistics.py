"""GradientStatistics: values against float64 numpy gradients computed here, the deep linear
network of the notes (W = c * I), the alerts, and that probing leaves training unchanged.
Backend-independent: runs on TensorFlow, JAX and torch."""

import gc
import warnings
import weakref

import keras
import numpy as np
import pytest
from reference_gradients import dense_layers, mse_gradients
from test_callbacks_events import (
    needs_steps_per_execution,
    read_run,
    scalars,
    series,
    small_model,
    small_regression,
    texts,
)

from callbacks import gradient_probe
from callbacks.gradient_statistics import GradientStatistics

pytestmark = pytest.mark.all_backends


class WeightRecorder(keras.callbacks.Callback):
    """The weights each step begins from and ends with, keyed by the 1-based step."""

    def __init__(self):
        super().__init__()
        self.before, self.after = {}, {}

    def on_train_batch_begin(self, batch, logs=None):
        self.before[int(self.model.optimizer.iterations) + 1] = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        self.after[int(self.model.optimizer.iterations)] = self.model.get_weights()


def test_logged_norms_match_numpy_gradients(tmp_path):
    x, y = small_regression()
    probe = (x[:8], y[:8])
    model = small_model(learning_rate=0.1)
    recorder = WeightRecorder()
    statistics = GradientStatistics(probe, tmp_path, log_every_n_steps=3, histogram_every_n_steps=3)
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[recorder, statistics])

    run = read_run(tmp_path)
    names = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert sorted(scalars(run, "gradients/norm/dense/kernel")) == [1, 3, 6]
    for step in (1, 3, 6):
        # Independent reference: the probe batch's gradient at the weights step `step` began from.
        model.set_weights(recorder.before[step])
        gradients = mse_gradients(dense_layers(model), *probe)
        for index, name in enumerate(names):
            before, after = recorder.before[step][index], recorder.after[step][index]
            expected = {
                f"gradients/norm/{name}": np.linalg.norm(gradients[index]),
                f"weights/norm/{name}": np.linalg.norm(before),
                f"updates/norm/{name}": np.linalg.norm(after - before),
            }
            for tag, value in expected.items():
                assert scalars(run, tag)[step] == pytest.approx(value, rel=1e-5, abs=1e-7), tag
            ratio = scalars(run, f"updates/ratio/{name}")[step]
            if np.linalg.norm(before) > 0:
                assert ratio == pytest.approx(np.linalg.norm(after - before) / np.linalg.norm(before), rel=1e-5)
            else:  # the zero-initialized biases at step 1
                assert np.isnan(ratio)
            histogram = series(run, f"gradients/histogram/{name}")[step]
            assert histogram[:, 2].sum() == gradients[index].size
        global_norm = np.sqrt(sum(np.sum(g**2) for g in gradients))
        assert scalars(run, "gradients/global_norm")[step] == pytest.approx(global_norm, rel=1e-5)
    assert statistics.latest["step"] == 6
    assert statistics.latest["global_gradient_norm"] == pytest.approx(global_norm, rel=1e-5)


def deep_linear(scale, depth=10):
    """The notes' example: `depth` Dense 2->2 layers, no bias, linear, W = scale * I."""
    model = keras.Sequential(
        [keras.Input((2,))]
        + [
            keras.layers.Dense(2, use_bias=False, kernel_initializer=keras.initializers.Identity(scale))
            for _ in range(depth)
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # lr 0: look, don't move
    return model


def fit_deep_linear(scale, log_dir, **thresholds):
    x, y = small_regression(n=8, features=2)
    y = np.zeros((8, 2), np.float32)
    model = deep_linear(scale)
    statistics = GradientStatistics((x, y), log_dir, log_every_n_steps=1, **thresholds)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[statistics])
    alerts = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return x, statistics.latest, alerts


def layer_values(latest, key):
    """Per layer from input to output (dense, dense_1, ..., dense_9)."""
    return np.array(list(latest[key].values()))


@pytest.mark.parametrize("scale", [1.3, 0.7])
def test_deep_linear_network_grows_or_shrinks_by_the_scale_per_layer(tmp_path, scale):
    depth = 10
    x, latest, _ = fit_deep_linear(scale, tmp_path)
    # Forward: a_l = scale**l * x, so each layer's output is `scale` times the one before.
    activations = layer_values(latest, "activation_norms")
    assert activations[0] == pytest.approx(scale * np.linalg.norm(x), rel=1e-5)
    np.testing.assert_allclose(activations[1:] / activations[:-1], scale, rtol=1e-5)
    # Backward: d loss / d a_{l-1} = W^T d loss / d a_l, `scale` times larger toward the input.
    output_gradients = layer_values(latest, "output_gradient_norms")
    np.testing.assert_allclose(output_gradients[:-1] / output_gradients[1:], scale, rtol=1e-5)
    # Weight gradients: d loss / d a_l @ a_{l-1}^T = scale**(depth - 1) * delta x^T for every
    # layer, with delta = d loss / d y_pred = 2 * y_pred / y_pred.size for mse toward y = 0.
    delta = 2 * scale**depth * x / x.size
    expected = scale ** (depth - 1) * np.linalg.norm(x.T @ delta)
    np.testing.assert_allclose(layer_values(latest, "gradient_norms"), expected, rtol=1e-4)
    # The whole net's weight gradients scale like scale**(2 * depth - 1): 146x or 1/880.
    shallow = np.linalg.norm(x.T @ (2 * x / x.size))
    assert expected / shallow == pytest.approx(scale ** (2 * depth - 1), rel=1e-5)


def test_exploding_gradients_are_flagged_once_per_variable(tmp_path):
    _, latest, alerts = fit_deep_linear(1.3, tmp_path, exploding_threshold=10.0)
    assert min(latest["gradient_norms"].values()) > 10.0  # the premise: all above the threshold
    assert set(latest["flags"].values()) == {"exploding"} and len(latest["flags"]) == 10
    assert len(alerts) == 10 and all(a.startswith("Exploding gradient at step 1") for a in alerts)
    run = read_run(tmp_path)
    assert scalars(run, "gradients/exploding_count") == {1: 10.0}
    assert scalars(run, "gradients/vanishing_count") == {1: 0.0}
    assert "dense_9/kernel" in texts(run, "gradients/alerts")[1]


def test_vanishing_gradients_are_flagged(tmp_path):
    _, latest, alerts = fit_deep_linear(0.7, tmp_path, vanishing_threshold=0.05)
    assert max(latest["gradient_norms"].values()) < 0.05
    assert set(latest["flags"].values()) == {"vanishing"} and len(latest["flags"]) == 10
    assert len(alerts) == 10 and all(a.startswith("Vanishing gradient") for a in alerts)
    assert scalars(read_run(tmp_path), "gradients/vanishing_count") == {1: 10.0}


def test_a_well_scaled_network_raises_no_flag(tmp_path):
    _, latest, alerts = fit_deep_linear(1.0, tmp_path, vanishing_threshold=0.05, exploding_threshold=10.0)
    norms = latest["gradient_norms"].values()
    assert 0.05 < min(norms) <= max(norms) < 10.0
    assert latest["flags"] == {} and alerts == []


def batch_norm_dropout_model():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def test_probing_leaves_training_exactly_as_without_it():
    x, y = small_regression(n=32)
    runs = []
    for callbacks in ([], [GradientStatistics((x[:8], y[:8]), log_every_n_steps=1)]):
        keras.utils.set_random_seed(1)
        model = batch_norm_dropout_model()
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=callbacks)
        runs.append((model.get_weights(), history.history["loss"]))
    (weights, losses), (probed_weights, probed_losses) = runs
    assert losses == probed_losses  # the metrics were not touched either
    for a, b in zip(weights, probed_weights):  # includes batch norm's moving statistics
        np.testing.assert_array_equal(a, b)


class LatestRecorder(keras.callbacks.Callback):
    """A copy of `statistics.latest` after every step (put it after `statistics`)."""

    def __init__(self, statistics):
        super().__init__()
        self.statistics, self.values = statistics, []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(dict(self.statistics.latest))


def fit_twice(x, y, forget_between):
    """One model fit twice, each fit with its own GradientStatistics on its own probe batch of
    the same shape; `forget_between` drops the measuring functions kept for the model."""
    keras.backend.clear_session(free_memory=False)  # the same layer names both times
    keras.utils.set_random_seed(1)
    model = batch_norm_dropout_model()
    measures, logged = [], []
    for probe in ((x[:8], y[:8]), (x[8:16], y[8:16])):
        if forget_between:
            gradient_probe.MEASURES.pop(model, None)
        statistics = GradientStatistics(probe, log_every_n_steps=1)
        recorder = LatestRecorder(statistics)
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[statistics, recorder])
        measures.append(statistics._probe._measure)
        logged.append(recorder.values)
    return measures, logged, model.get_weights()


def test_a_second_fit_reuses_the_probe_functions_on_its_own_probe_batch():
    """The measuring functions are kept per model (the runner reuses compiled models across
    runs); the probe batch is an argument, so the second fit's values are those of freshly
    made functions on the second batch, bit for bit, and training is unchanged."""
    x, y = small_regression(n=32)
    measures, reused, weights = fit_twice(x, y, forget_between=False)
    fresh_measures, fresh, fresh_weights = fit_twice(x, y, forget_between=True)
    assert measures[1] is measures[0] and fresh_measures[1] is not fresh_measures[0]
    np.testing.assert_equal(reused, fresh)  # every step's norms, NaN ratios included
    assert reused[1][0]["global_gradient_norm"] != reused[0][-1]["global_gradient_norm"]
    for a, b in zip(weights, fresh_weights):
        np.testing.assert_array_equal(a, b)


def test_a_recompiled_model_gets_new_probe_functions():
    x, y = small_regression()
    model = small_model()
    first = GradientStatistics((x, y), log_every_n_steps=1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[first])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mae")  # another loss to measure
    second = GradientStatistics((x, y), log_every_n_steps=1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[second])
    assert second._probe._measure is not first._probe._measure


def test_kept_probe_functions_do_not_keep_the_model_alive():
    x, y = small_regression()
    model = small_model()
    statistics = GradientStatistics((x, y), log_every_n_steps=1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[statistics])
    assert model in gradient_probe.MEASURES
    alive = weakref.ref(model)
    del model, statistics
    gc.collect()
    assert alive() is None


def test_functional_models_get_variable_statistics_only():
    x, y = small_regression()
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(4)(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    statistics = GradientStatistics((x, y), log_every_n_steps=1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[statistics])
    assert len(statistics.latest["gradient_norms"]) == 4
    assert statistics.latest["activation_norms"] == {}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"probe_data": np.zeros(3)}, "Argument `probe_data` must be a tuple"),
        ({"probe_data": (1,)}, "Argument `probe_data` must be a tuple"),
        ({"log_every_n_steps": 0}, "Argument `log_every_n_steps` must be an integer > 0"),
        ({"histogram_every_n_steps": -1}, "Argument `histogram_every_n_steps` must be"),
        ({"vanishing_threshold": 0.0}, "Argument `vanishing_threshold` must be > 0"),
        ({"exploding_threshold": "big"}, "Argument `exploding_threshold` must be a number"),
        ({"vanishing_threshold": 5.0, "exploding_threshold": 1.0}, "must be < `exploding_thr"),
    ],
)
def test_invalid_arguments(kwargs, match):
    kwargs = {"probe_data": (np.zeros((1, 3)), np.zeros((1, 1))), **kwargs}
    with pytest.raises(ValueError, match=match):
        GradientStatistics(**kwargs)


@needs_steps_per_execution
def test_groups_of_steps_are_measured_at_their_first_step(tmp_path):
    x, y = small_regression()
    model = small_model(learning_rate=0.1)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", steps_per_execution=3)
    recorder = WeightRecorder()
    statistics = GradientStatistics((x, y), tmp_path, log_every_n_steps=3)
    # 4 steps per epoch, groups 1-3, 4 | 5-7, 8: logging steps 1, 3 fall in the group that
    # begins at 1 and step 6 in the one that begins at 5.
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[recorder, statistics])
    run = read_run(tmp_path)
    assert sorted(scalars(run, "gradients/global_norm")) == [1, 5]
    model.set_weights(recorder.before[5])
    gradient = mse_gradients(dense_layers(model), x, y)[0]
    assert scalars(run, "gradients/norm/dense/kernel")[5] == pytest.approx(np.linalg.norm(gradient), rel=1e-5)
    group_update = recorder.after[7][0] - recorder.before[5][0]  # the group's three steps
    assert scalars(run, "updates/norm/dense/kernel")[5] == pytest.approx(np.linalg.norm(group_update), rel=1e-5)
