"""Model families: the MLP through build_model is the MLP as before; the CNN's layout for 1-D
and 2-D examples and its switches; the CNN trains on a few batches of each bundled data set."""

import keras
import numpy as np
import pytest

from experiments.config.settings import resolve
from experiments.data.datasets import Dataset
from experiments.engine import models


def _dataset(input_shape, num_classes=10, n=8):
    features = int(np.prod(input_shape))
    x = np.random.default_rng(0).normal(size=(n, features)).astype(np.float32)
    y = np.arange(n, dtype=np.int32) % num_classes
    return Dataset("test", x, y, x, y, num_classes, tuple(input_shape))


def _weights(model):
    return [w.numpy() for w in model.weights]


def test_build_model_mlp_is_build_mlp():
    config = resolve({"width": 16, "depth": 3, "batch_norm": True, "initializer": "glorot_normal", "seed": 4})
    built = models.build_model(config, _dataset((8, 8)))
    direct = models.build_mlp(64, 10, width=16, depth=3, activation="relu", initializer="glorot_normal",
                              batch_norm=True, seed=4)
    assert [layer.name for layer in built.layers] == [layer.name for layer in direct.layers]
    for a, b in zip(_weights(built), _weights(direct)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "input_shape, convolution, feature_shapes",
    [
        ((40,), keras.layers.Conv1D, [(20, 8), (10, 8), (5, 8)]),  # MNIST-1D: 1-D
        ((8, 8), keras.layers.Conv2D, [(4, 4, 8), (2, 2, 8), (2, 2, 8)]),  # digits: stops halving below 4
        ((28, 28), keras.layers.Conv2D, [(14, 14, 8), (7, 7, 8), (4, 4, 8)]),
        ((32, 32, 3), keras.layers.Conv2D, [(16, 16, 8), (8, 8, 8), (4, 4, 8)]),  # colour channels kept
    ],
)
def test_cnn_convolves_each_example_in_its_own_shape(input_shape, convolution, feature_shapes):
    model = models.build_model(resolve({"model": "cnn", "width": 8, "depth": 3}), _dataset(input_shape))
    convolutions = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D))]
    assert all(type(layer) is convolution for layer in convolutions)
    assert [tuple(layer.output.shape[1:]) for layer in convolutions] == feature_shapes
    assert model.input_shape == (None, int(np.prod(input_shape)))  # fed the flat rows the loop stores
    probabilities = model(_dataset(input_shape).x_train).numpy()
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_cnn_switches_batch_norm_activation_initializer_depth():
    config = resolve({"model": "cnn", "width": 4, "depth": 2, "batch_norm": True, "activation": "tanh",
                      "initializer": "tiny", "seed": 3})
    model = models.build_model(config, _dataset((28, 28)))
    names = [layer.name for layer in model.layers]
    assert names[2:8] == ["conv_1", "batch_norm_1", "tanh_1", "conv_2", "batch_norm_2", "tanh_2"]
    conv = model.get_layer("conv_1")
    assert not conv.use_bias  # batch norm's shift replaces it
    assert np.std(conv.kernel.numpy()) == pytest.approx(0.01, rel=0.3)  # the "tiny" N(0, 0.01^2)
    again = models.build_model(config, _dataset((28, 28)))
    for a, b in zip(_weights(model), _weights(again)):
        np.testing.assert_array_equal(a, b)  # the same seed, the same initial network
    logistic = models.build_model(resolve({"model": "cnn", "depth": 0}), _dataset((40,)))
    assert [type(layer).__name__ for layer in logistic.layers] == ["InputLayer", "Reshape", "Flatten", "Dense"]


def test_cnn_rejects_examples_it_cannot_convolve():
    with pytest.raises(ValueError, match=r"build_cnn needs examples of 1 to 3 axes; got input_shape=\(2, 2, 2, 2\)"):
        models.build_cnn((2, 2, 2, 2), 10)


@pytest.mark.parametrize(
    "dataset, settings",
    [
        ("digits", {"limit": 400, "batch_size": 32}),
        ("mnist5k", {"limit": 400, "batch_size": 32}),
        ("mnist1d", {"batch_size": 100, "learning_rate": 1e-2}),  # harder: all 4,000 sequences
    ],
)
def test_cnn_trains_on_a_few_batches_of_each_data_set(dataset, settings, tmp_path):
    from experiments.engine.training import train_run

    config = resolve({"model": "cnn", "dataset": dataset, "width": 16, "epochs": 3, "learning_rate": 3e-3, **settings})
    record = train_run(config, str(tmp_path))
    assert record["status"] == "ok" and record["dataset"] == dataset
    history = record["history"]
    # Well above chance (10%) on held-out examples, and better than after its first epoch.
    assert history["val_accuracy"][-1] > 0.3 and history["loss"][-1] < history["loss"][0]
