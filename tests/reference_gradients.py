"""Float64 numpy gradients of the mean squared error of a stack of Dense layers: the reference
the callback tests check logged gradients against, on every backend (no autodiff involved)."""

import numpy as np

_ACTIVATIONS = {"linear": (lambda z: z, lambda a: np.ones_like(a)), "tanh": (np.tanh, lambda a: 1.0 - a**2)}


def dense_layers(model):
    """`[(kernel, bias or None, activation name)]` of a Sequential model of Dense layers, float64."""
    layers = []
    for layer in model.layers:
        bias = None if layer.bias is None else np.float64(layer.bias.numpy())
        layers.append((np.float64(layer.kernel.numpy()), bias, layer.activation.__name__))
    return layers


def mse_gradients(layers, x, y):
    """Gradients of `mean((f(x) - y)**2)` with respect to each kernel and bias, in the order
    of `model.trainable_variables` (kernel, bias, kernel, bias, ...)."""
    activations = [np.float64(x)]
    for kernel, bias, name in layers:
        z = activations[-1] @ kernel + (0.0 if bias is None else bias)
        activations.append(_ACTIVATIONS[name][0](z))
    output = activations[-1]
    upstream = 2.0 * (output - np.float64(y)) / output.size
    gradients = []
    for index in reversed(range(len(layers))):
        kernel, bias, name = layers[index]
        dz = upstream * _ACTIVATIONS[name][1](activations[index + 1])
        layer_gradients = [activations[index].T @ dz] + ([] if bias is None else [dz.sum(axis=0)])
        gradients = layer_gradients + gradients
        upstream = dz @ kernel.T
    return gradients
