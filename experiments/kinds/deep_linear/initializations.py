"""Part 2: deep ReLU and sigmoid networks at initialization under four initializers, each
layer's kernel-gradient norm and activation RMS on a batch of digits, over seeds."""

import numpy as np

from experiments.evidence.findings import Finding, verdict_of_check
from experiments.outputs.summaries import std as _std

ACTIVATIONS = ("relu", "sigmoid")
INITIALIZERS = ("he_normal", "glorot_uniform", "unit_normal", "tiny_normal")
INITIALIZER_LABELS = {
    "he_normal": "He normal, std sqrt(2/n)",
    "glorot_uniform": "Glorot uniform (Keras default)",
    "unit_normal": "unit normal N(0, 1)",
    "tiny_normal": "tiny normal N(0, 0.01²)",
}
REFERENCE_INITIALIZER = {"relu": "he_normal", "sigmoid": "glorot_uniform"}  # each one's usual choice
ORDER_OF_MAGNITUDE = 10.0
EXPLODED, VANISHED = 100.0, 0.01  # gradient norm relative to the reference initialization's



def initializer(name, seed_generator):
    import keras

    if name == "unit_normal":
        return keras.initializers.RandomNormal(stddev=1.0, seed=seed_generator)
    if name == "tiny_normal":
        return keras.initializers.RandomNormal(stddev=0.01, seed=seed_generator)
    if name == "he_normal":
        return keras.initializers.HeNormal(seed=seed_generator)
    if name == "glorot_uniform":
        return keras.initializers.GlorotUniform(seed=seed_generator)
    raise ValueError(f"Unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}.")


def deep_network(activation, init, depth, width, num_features, num_classes, seed):
    """`depth` Dense(width, activation) layers and Dense(num_classes) logits, kernels from
    `init` (one SeedGenerator per network: every layer gets its own draw), biases zero."""
    import keras

    seeds = keras.random.SeedGenerator(seed)
    layers = [keras.Input(shape=(num_features,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, activation=activation, kernel_initializer=initializer(init, seeds)))
    layers.append(keras.layers.Dense(num_classes, kernel_initializer=initializer(init, seeds)))
    return keras.Sequential(layers)


def layer_statistics(model, x, y):
    """Per layer: the kernel's gradient norm and the root mean square of the layer's output,
    for the mean softmax cross-entropy of the logits on (x, y)."""
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        outputs, signal = [], tf.constant(x)
        for layer in model.layers:
            signal = layer(signal)
            outputs.append(signal)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, signal, from_logits=True))
    gradients = tape.gradient(loss, [layer.kernel for layer in model.layers])
    # A gradient can underflow to exactly 0 in float32 (tiny initializations, deep sigmoid stacks).
    return (
        np.array([float(tf.norm(g)) for g in gradients]),
        np.array([float(tf.sqrt(tf.reduce_mean(a**2))) for a in outputs]),
    )


def study_initializations(params, seeds):
    import keras

    from experiments.data.datasets import load_dataset

    data = load_dataset("digits", "standardize")
    x = data.x_train[: params["init_batch_size"]]
    y = data.y_train[: params["init_batch_size"]]
    depth = params["init_depth"]
    statistics = {}  # (activation, init) -> (gradients [seeds, layers], activations [seeds, layers])
    for activation in ACTIVATIONS:
        for init in INITIALIZERS:
            gradients, activations = [], []
            for seed in range(seeds):
                model = deep_network(
                    activation, init, depth, params["init_width"], data.num_features, data.num_classes, seed
                )
                g, a = layer_statistics(model, x, y)
                gradients.append(g)
                activations.append(a)
            statistics[activation, init] = (np.array(gradients), np.array(activations))
            keras.backend.clear_session(free_memory=False)
    # Gradients that underflowed to exactly 0 give inf or NaN ratios: data, not an error.
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = [
            initialization_row(statistics, activation, init, depth, params["init_width"], len(x), seeds)
            for activation, init in statistics
        ]
        findings = initialization_findings(statistics, depth, seeds)
    return rows, findings, statistics


def initialization_row(statistics, activation, init, depth, width, batch_size, seeds):
    gradients, activations = statistics[activation, init]
    reference = statistics[activation, REFERENCE_INITIALIZER[activation]][0]
    hidden = gradients[:, :depth]
    return {
        "network": f"{activation} {depth}x{width}",
        "setting": init,
        "input": f"digits batch of {batch_size}",
        "seeds": seeds,
        "activation_growth_per_layer": float(np.mean(geometric_growth(activations[:, :depth]))),
        "first_kernel_gradient_mean": float(np.mean(gradients[:, 0])),
        "first_kernel_gradient_std": _std(gradients[:, 0]),
        "output_kernel_gradient_mean": float(np.mean(gradients[:, -1])),
        "kernel_gradient_spread_across_layers": float(np.mean(gradients.max(axis=1) / gradients.min(axis=1))),
        "first_over_last_hidden_gradient": float(np.mean(hidden[:, 0] / hidden[:, -1])),
        "first_kernel_gradient_vs_reference": float(np.mean(gradients[:, 0]) / np.mean(reference[:, 0])),
        "layers_with_zero_gradient": float(np.mean(np.sum(gradients == 0, axis=1))),
    }


def geometric_growth(values):
    """Per seed: the mean factor by which a quantity changes per layer, (last / first)^(1/(n-1))."""
    return (values[:, -1] / values[:, 0]) ** (1.0 / (values.shape[1] - 1))


def _per_seed(condition):
    """(holds, separated): holds on every seed; separated when the seeds agree (n >= 2)."""
    condition = np.asarray(condition, bool)
    agree = bool(np.all(condition) or not np.any(condition))
    return bool(np.all(condition)), agree and condition.size >= 2


def _range(values, digits=2):
    values = np.asarray(values, dtype=float)
    if values.size == 1:
        return f"{values[0]:.{digits}g}"
    return f"{np.mean(values):.{digits}g} (seeds {np.min(values):.{digits}g} to {np.max(values):.{digits}g})"


def also_within(statistics, spread):
    others = [INITIALIZER_LABELS[i] for i in INITIALIZERS[1:] if np.all(spread("relu", i) < ORDER_OF_MAGNITUDE)]
    if not others:
        return ""
    return (
        f" So do {', '.join(others)}: with ReLU the initializations differ in the overall size of "
        f"the gradients (the next findings), not in their spread across layers."
    )


def initialization_findings(statistics, depth, seeds):
    def spread(activation, init):
        gradients = statistics[activation, init][0]
        return gradients.max(axis=1) / gradients.min(axis=1)

    def relative_first(activation, init):
        gradients = statistics[activation, init][0][:, 0]
        return gradients / np.mean(statistics[activation, REFERENCE_INITIALIZER[activation]][0][:, 0])

    def toward_input(activation, init):
        hidden = statistics[activation, init][0][:, :depth]
        return hidden[:, 0] / hidden[:, -1]

    he_spread = spread("relu", "he_normal")
    findings = [
        Finding(
            "He initialization keeps a deep ReLU network's gradients within an order of magnitude across layers",
            verdict_of_check(*_per_seed(he_spread < ORDER_OF_MAGNITUDE)),
            f"Largest over smallest kernel-gradient norm across the {depth + 1} layers, {seeds} seed(s): "
            + "; ".join(f"{INITIALIZER_LABELS[i]} {_range(spread('relu', i))}" for i in INITIALIZERS)
            + f". Supported if below {ORDER_OF_MAGNITUDE:g} on every seed."
            + also_within(statistics, spread),
        )
    ]
    unit = relative_first("relu", "unit_normal")
    findings.append(Finding(
        "A unit-normal N(0, 1) initialization makes a deep ReLU network's gradients explode",
        verdict_of_check(*_per_seed(unit > EXPLODED)),
        f"First layer's kernel-gradient norm relative to He's: {_range(unit)} (supported above {EXPLODED:g} "
        f"on every seed); across layers it varies by {_range(spread('relu', 'unit_normal'))}, so every "
        f"layer's gradient is that large: activations grow by about sqrt(n/2) per layer "
        f"(measured {_range(geometric_growth(statistics['relu', 'unit_normal'][1][:, :depth]))}).",
    ))  # fmt: skip
    tiny = {a: relative_first(a, "tiny_normal") for a in ACTIVATIONS}
    findings.append(Finding(
        "A tiny N(0, 0.01²) initialization makes the gradients vanish (ReLU and sigmoid)",
        verdict_of_check(*_per_seed(np.concatenate(list(tiny.values())) < VANISHED)),
        "First layer's kernel-gradient norm relative to the usual initialization (He for ReLU, "
        "Glorot for sigmoid): " + "; ".join(f"{a} {_range(tiny[a])}" for a in ACTIVATIONS)
        + f" (supported below {VANISHED:g} on every seed).",
    ))  # fmt: skip
    sigmoid = np.concatenate([toward_input("sigmoid", i) for i in INITIALIZERS])
    findings.append(Finding(
        "In a deep sigmoid network the gradients shrink toward the input layers, whatever the initialization",
        verdict_of_check(*_per_seed(sigmoid < 1 / ORDER_OF_MAGNITUDE)),
        "First hidden layer's kernel-gradient norm over the last hidden layer's: "
        + "; ".join(f"{INITIALIZER_LABELS[i]} {_range(toward_input('sigmoid', i))}" for i in INITIALIZERS)
        + f"; with ReLU and He: {_range(toward_input('relu', 'he_normal'))}. Supported if below "
        f"{1 / ORDER_OF_MAGNITUDE:g} for every initialization and seed (sigmoid' <= 1/4 at every layer).",
    ))  # fmt: skip
    underflow = [f"{a} with {INITIALIZER_LABELS[i]}" for (a, i), (g, _) in statistics.items() if np.any(g == 0)]
    if underflow:
        note = (
            f" Some layers' gradients underflowed to exactly 0 in float32 ({'; '.join(underflow)}): "
            "ratios involving them show as 0, inf or nan."
        )
        findings = [Finding(f.claim, f.verdict, f.evidence + note) for f in findings]
    findings.append(Finding(
        "Activation scale per layer under each initialization (the reason for sqrt(2/n) with ReLU)",
        "measured",
        "Mean factor by which the activations' root mean square changes per hidden layer: "
        + "; ".join(
            f"{a} with {INITIALIZER_LABELS[i]} {_range(geometric_growth(statistics[a, i][1][:, :depth]), 3)}"
            for a in ACTIVATIONS for i in INITIALIZERS
        ) + ".",
    ))  # fmt: skip
    return findings
