"""Deep linear network and initializations: norms from tf.GradientTape against float64 numpy
forward and backward passes written here, the notes' geometric growth (1.3^l) and what grows
geometrically for the gradients, the initializers' scales, and the experiment end to end."""

import os

import numpy as np
import pytest
import tensorflow as tf
from test_surfaces import image_tags

from experiments import spec
from experiments.evidence.findings import VERDICTS
from experiments.kinds import deep_linear
from experiments.kinds.deep_linear.initializations import INITIALIZERS, deep_network, layer_statistics
from experiments.kinds.deep_linear.linear import deep_linear_model, linear_norms

DEPTH = 12
BATCH = np.array([[0.6, 0.8], [-1.0, 0.5], [0.3, -2.0]], np.float32)


def linear_reference(depth, scale, inputs):
    """Float64 forward and backward pass of `depth` layers a_l = a_(l-1) @ W, W = scale * I,
    loss = 0.5 * mean_b ||a_L||^2: per-layer norms of a_l, d loss/d a_l and d loss/d W_l."""
    weight = scale * np.eye(2)
    activations = [np.asarray(inputs, np.float64)]
    for _ in range(depth):
        activations.append(activations[-1] @ weight)
    deltas = [activations[-1] / len(inputs)]  # d loss / d a_L
    for _ in range(depth - 1):
        deltas.insert(0, deltas[0] @ weight.T)
    kernel_gradients = [a.T @ d for a, d in zip(activations[:-1], deltas)]
    norm = np.linalg.norm
    return [norm(a) for a in activations[1:]], [norm(d) for d in deltas], [norm(g) for g in kernel_gradients]


@pytest.mark.parametrize("scale", [1.3, 0.7])
def test_activation_and_gradient_norms_match_a_float64_backward_pass(scale):
    norms = linear_norms(deep_linear_model(DEPTH, scale), BATCH)
    activations, deltas, kernel_gradients = linear_reference(DEPTH, scale, BATCH)
    np.testing.assert_allclose(norms["activations"], activations, rtol=1e-5)
    np.testing.assert_allclose(norms["output_gradients"], deltas, rtol=1e-5)
    np.testing.assert_allclose(norms["kernel_gradients"], kernel_gradients, rtol=1e-5)
    # The network of the first d layers: its kernel gradient, from the same reference.
    by_depth = [linear_reference(d, scale, BATCH)[2][0] for d in range(1, DEPTH + 1)]
    np.testing.assert_allclose(norms["kernel_gradient_by_depth"], by_depth, rtol=1e-5)


def test_layer_by_layer_gradients_equal_the_models_own():
    model = deep_linear_model(5, 1.3)
    with tf.GradientTape() as tape:
        loss = 0.5 * tf.reduce_mean(tf.reduce_sum(model(BATCH) ** 2, axis=-1))
    expected = [float(tf.norm(g)) for g in tape.gradient(loss, model.trainable_variables)]
    np.testing.assert_allclose(linear_norms(model, BATCH)["kernel_gradients"], expected, rtol=1e-6)


def test_the_notes_1_3_network_grows_geometrically():
    x = np.array([[0.6, 0.8]], np.float32)  # ||x|| = 1
    norms = linear_norms(deep_linear_model(DEPTH, 1.3), x)
    layers = np.arange(1, DEPTH + 1)
    np.testing.assert_allclose(norms["activations"], 1.3**layers, rtol=1e-5)  # ||a_l|| = 1.3^l ||x||
    # The backpropagated gradient grows by 1.3 per layer toward the input ...
    np.testing.assert_allclose(norms["output_gradients"][:-1] / norms["output_gradients"][1:], 1.3, rtol=1e-5)
    # ... the kernels' gradients are equal across layers, 1.3^(2L-1) ||x^T x|| (||x^T x|| = 1) ...
    np.testing.assert_allclose(norms["kernel_gradients"], 1.3 ** (2 * DEPTH - 1), rtol=1e-5)
    # ... and grow by 1.3^2 with every layer added to the network.
    by_depth = norms["kernel_gradient_by_depth"]
    np.testing.assert_allclose(by_depth[1:] / by_depth[:-1], 1.3**2, rtol=1e-5)


def test_the_0_7_network_shrinks_geometrically():
    x = np.array([[0.6, 0.8]], np.float32)
    norms = linear_norms(deep_linear_model(DEPTH, 0.7), x)
    np.testing.assert_allclose(norms["activations"][1:] / norms["activations"][:-1], 0.7, rtol=1e-5)
    np.testing.assert_allclose(norms["output_gradients"][:-1] / norms["output_gradients"][1:], 0.7, rtol=1e-5)
    by_depth = norms["kernel_gradient_by_depth"]
    np.testing.assert_allclose(by_depth[1:] / by_depth[:-1], 0.49, rtol=1e-5)


def test_layer_statistics_match_numpy_for_a_small_relu_network():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = np.array([0, 2, 1, 2, 0])
    model = deep_network("relu", "he_normal", depth=2, width=3, num_features=4, num_classes=3, seed=1)
    gradients, rms = layer_statistics(model, x, y)

    kernels = [np.asarray(layer.kernel, np.float64) for layer in model.layers]  # biases start at 0
    hidden = [x.astype(np.float64)]
    for kernel in kernels[:-1]:
        hidden.append(np.maximum(hidden[-1] @ kernel, 0))
    logits = hidden[-1] @ kernels[-1]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    delta = (probabilities - np.eye(3)[y]) / len(x)  # d mean cross-entropy / d logits
    expected = [0.0] * 3
    expected[2] = np.linalg.norm(hidden[2].T @ delta)
    delta = (delta @ kernels[2].T) * (hidden[2] > 0)
    expected[1] = np.linalg.norm(hidden[1].T @ delta)
    delta = (delta @ kernels[1].T) * (hidden[1] > 0)
    expected[0] = np.linalg.norm(hidden[0].T @ delta)
    np.testing.assert_allclose(gradients, expected, rtol=1e-4)
    outputs = hidden[1:] + [logits]
    np.testing.assert_allclose(rms, [np.sqrt(np.mean(a**2)) for a in outputs], rtol=1e-5)


@pytest.mark.parametrize("name, std", [("he_normal", np.sqrt(2 / 400)), ("unit_normal", 1.0), ("tiny_normal", 0.01)])
def test_initializer_scales(name, std):
    model = deep_network("relu", name, depth=2, width=400, num_features=400, num_classes=10, seed=0)
    first, second = (np.asarray(layer.kernel) for layer in model.layers[:2])
    assert np.std(first) == pytest.approx(std, rel=0.02)
    assert not np.allclose(first, second)  # every layer draws its own kernel
    again = deep_network("relu", name, depth=2, width=400, num_features=400, num_classes=10, seed=0)
    np.testing.assert_array_equal(np.asarray(again.layers[0].kernel), first)


def test_glorot_uniform_bounds():
    model = deep_network("sigmoid", "glorot_uniform", depth=1, width=300, num_features=100, num_classes=10, seed=0)
    kernel = np.asarray(model.layers[0].kernel)
    limit = np.sqrt(6 / (100 + 300))
    assert np.abs(kernel).max() <= limit
    assert np.std(kernel) == pytest.approx(limit / np.sqrt(3), rel=0.02)  # uniform(-a, a): std a/sqrt(3)


def test_specs_parse_for_both_sizes():
    for size in ("quick", "full"):
        experiment = spec.load("deep_linear", size)
        assert experiment.kind == "deep_linear"
        assert set(experiment.params) == set(deep_linear.DEFAULT_PARAMS)


def test_bad_params_are_rejected():
    with pytest.raises(ValueError, match="weight_scales"):
        deep_linear.check_params({**deep_linear.DEFAULT_PARAMS, "weight_scales": [1.3, -1.0]})
    with pytest.raises(ValueError, match="depth"):
        deep_linear.check_params({**deep_linear.DEFAULT_PARAMS, "depth": 1})


def test_run_end_to_end_in_a_tiny_size(tmp_path):
    params = {
        **deep_linear.DEFAULT_PARAMS,
        "depth": 6,
        "weight_scales": [0.7, 1.3],
        "init_depth": 3,
        "init_width": 8,
        "init_batch_size": 32,
    }
    result = deep_linear.run(params, 2, str(tmp_path))
    table, findings, figures = result.table, result.findings, result.figures
    # Exactly geometric in float32: every layer's growth factor is w to 1e-5.
    np.testing.assert_allclose(result.measurements["linear_activation_growth_relative_error"], 0, atol=1e-5)
    assert len(result.measurements["relu_he_log10_gradient_spread"]) == 2  # one per seed

    linear = table[table.network == "deep linear, L=6"]
    assert len(linear) == 4  # 2 scales x (x and the batch)
    np.testing.assert_allclose(linear.activation_growth_per_layer.astype(float), [0.7, 0.7, 1.3, 1.3], rtol=1e-5)
    assert len(table) == 4 + 2 * len(INITIALIZERS)
    assert findings and all(f.verdict in VERDICTS and f.claim and f.evidence for f in findings)
    assert figures == ["deep_linear.png", "initializations.png"]
    for name in figures:
        with open(tmp_path / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]
    assert set(image_tags(str(tmp_path / "figures"))) == {"deep_linear", "initializations"}
