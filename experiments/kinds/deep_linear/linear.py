"""Part 1, the notes' example: a deep linear network `W = w * I` per layer, its activations' and
gradients' norms per layer measured with `tf.GradientTape` against their closed forms
(the derivation is in the package's docstring)."""

import numpy as np

from experiments.evidence.findings import Finding, verdict_of_check

FIXED_INPUT = (0.6, 0.8)
RELATIVE_TOLERANCE = 1e-4  # float32 agreement with the closed forms, over up to 2L products



def deep_linear_model(depth, scale):
    """`depth` Dense(2) layers, no bias, identity activation, each kernel `scale * I`."""
    import keras

    layers = [keras.Input(shape=(2,))]
    for index in range(1, depth + 1):
        layers.append(
            keras.layers.Dense(
                2, use_bias=False, kernel_initializer=keras.initializers.Identity(gain=scale), name=f"layer_{index}"
            )
        )
    return keras.Sequential(layers, name=f"deep_linear_{scale:g}")


def linear_norms(model, inputs):
    """Per layer l = 1..L: ||a_l||, ||d loss/d a_l||, ||d loss/d W_l||, and for each depth
    d = 1..L the kernel-gradient norm ||d loss_d / d W_1|| of the network made of the first d
    layers, where loss_d = 0.5 * mean_b ||a_d||**2 (target 0). Float64 numpy arrays."""
    import tensorflow as tf

    inputs = tf.constant(inputs, tf.float32)
    kernels = [layer.kernel for layer in model.layers]
    with tf.GradientTape(persistent=True) as tape:
        activations, signal = [], inputs
        for layer in model.layers:
            signal = layer(signal)
            activations.append(signal)
        losses = [0.5 * tf.reduce_mean(tf.reduce_sum(a**2, axis=-1)) for a in activations]
    output_gradients = tape.gradient(losses[-1], activations)
    kernel_gradients = tape.gradient(losses[-1], kernels)
    by_depth = [tape.gradient(loss, kernels[0]) for loss in losses]
    del tape

    def norms(tensors):
        return np.array([float(tf.norm(t)) for t in tensors], dtype=np.float64)

    return {
        "activations": norms(activations),
        "output_gradients": norms(output_gradients),
        "kernel_gradients": norms(kernel_gradients),
        "kernel_gradient_by_depth": norms(by_depth),
    }


def linear_closed_forms(depth, scale, inputs):
    """The closed forms of the module docstring, in float64."""
    inputs = np.asarray(inputs, np.float64)
    batch, layers = len(inputs), np.arange(1, depth + 1)
    x_norm, gram_norm = np.linalg.norm(inputs), np.linalg.norm(inputs.T @ inputs)
    return {
        "activations": scale**layers * x_norm,
        "output_gradients": scale ** (2 * depth - layers) * x_norm / batch,
        "kernel_gradients": np.full(depth, scale ** (2 * depth - 1) * gram_norm / batch),
        "kernel_gradient_by_depth": scale ** (2 * layers - 1) * gram_norm / batch,
    }


def layer_ratios(values):
    return values[1:] / values[:-1]


def study_deep_linear(params):
    import keras

    depth = params["depth"]
    inputs = {
        "x = (0.6, 0.8)": np.array([FIXED_INPUT], np.float32),
        f"batch of {params['linear_batch_size']}": np.random.default_rng(0)
        .standard_normal((params["linear_batch_size"], 2))
        .astype(np.float32),
    }
    rows, measured = [], {}
    for scale in params["weight_scales"]:
        model = deep_linear_model(depth, scale)
        for input_name, batch in inputs.items():
            norms = linear_norms(model, batch)
            expected = linear_closed_forms(depth, scale, batch)
            error = max(float(np.max(np.abs(norms[k] / expected[k] - 1))) for k in norms)
            activation_ratio = layer_ratios(np.concatenate([[np.linalg.norm(batch)], norms["activations"]]))
            backward_ratio = 1 / layer_ratios(norms["output_gradients"])  # layer l-1 over layer l
            measured[scale, input_name] = (norms, expected, error)
            rows.append({
                "network": f"deep linear, L={depth}",
                "setting": f"W = {scale:g} I",
                "input": input_name,
                "seeds": 1,
                "activation_growth_per_layer": float(np.mean(activation_ratio)),
                "output_gradient_growth_per_layer_toward_input": float(np.mean(backward_ratio)),
                "kernel_gradient_ratio_between_layers": float(np.mean(layer_ratios(norms["kernel_gradients"]))),
                "kernel_gradient_growth_per_added_layer": float(np.mean(layer_ratios(norms["kernel_gradient_by_depth"]))),
                "first_kernel_gradient_mean": norms["kernel_gradients"][0],
                "max_relative_error_vs_closed_form": error,
            })  # fmt: skip
        keras.backend.clear_session(free_memory=False)
    return rows, linear_findings(measured, params), measured


def linear_findings(measured, params):
    depth = params["depth"]
    scales = params["weight_scales"]
    error = max(e for _, _, e in measured.values())
    exact = error < RELATIVE_TOLERANCE
    per_scale = {scale: measured[scale, "x = (0.6, 0.8)"][0] for scale in scales}

    def growth(key, invert=False):
        parts = []
        for scale in scales:
            per_layer = layer_ratios(per_scale[scale][key])
            per_layer = 1 / per_layer if invert else per_layer
            parts.append(f"W = {scale:g} I: {np.min(per_layer):.6g} to {np.max(per_layer):.6g}")
        return "; ".join(parts)

    x_norm = float(np.linalg.norm(FIXED_INPUT))
    activation_ratios = {s: layer_ratios(np.concatenate([[x_norm], per_scale[s]["activations"]])) for s in scales}
    activations = "; ".join(
        f"W = {s:g} I: {np.min(r):.6g} to {np.max(r):.6g}, ||a_L|| = {per_scale[s]['activations'][-1]:.3g}"
        for s, r in activation_ratios.items()
    )
    # Geometric with depth: every added layer multiplies the kernel gradients by more (less) than 1.
    geometric = all(
        np.all(layer_ratios(per_scale[s]["kernel_gradient_by_depth"]) > 1)
        if s > 1
        else np.all(layer_ratios(per_scale[s]["kernel_gradient_by_depth"]) < 1)
        for s in scales
        if s != 1.0
    )
    return [
        Finding(
            "In a deep linear network with weights w·I the activations explode (w = 1.3) or vanish (w = 0.7) as w^l",
            verdict_of_check(exact, exact or error > 0.1),
            f"L = {depth}, ||x|| = {x_norm:g}: ||a_l|| / ||a_(l-1)|| per layer {activations}. Largest relative "
            f"difference from the closed form w^l ||x|| (and from the gradients' below), over every layer, "
            f"w and both inputs: {error:.2g} (float32; supported below {RELATIVE_TOLERANCE:g}).",
        ),
        Finding(
            "Gradients explode (w > 1) or vanish (w < 1) geometrically with the depth of the network",
            verdict_of_check(exact and geometric, exact or error > 0.1),
            f"Kernel-gradient norm of a network of depth d, per added layer: {growth('kernel_gradient_by_depth')} "
            f"(closed form w^2 per layer: w^(2d-1) ||x^T x|| / B); at d = {depth}: "
            + "; ".join(f"W = {s:g} I: {per_scale[s]['kernel_gradients'][0]:.3g}" for s in scales)
            + ". The backpropagated gradient d loss/d a_l grows toward the input by "
            f"{growth('output_gradients', invert=True)} per layer (closed form w).",
        ),
        Finding(
            "Within one deep linear network, every layer's kernel gradient has the same norm",
            "measured",
            f"||dW_(l+1)|| / ||dW_l||: {growth('kernel_gradients')}. dW_l = a_(l-1)^T (d loss/d a_l) = "
            f"w^(l-1) · w^(2L-l) x^T x / B: the input side's shrinking (growing) activations cancel the "
            f"growing (shrinking) backpropagated gradient, so 'grows geometrically from layer to layer' "
            f"holds for d loss/d a_l, not for the kernels' gradients, which all explode or vanish together.",
        ),
    ]
