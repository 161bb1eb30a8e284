"""Vanishing and exploding signals: the notes' deep linear network, and deep ReLU and sigmoid
networks under four initializations (notes 000 and 002).

Part 1, the notes' example: L Dense layers of 2 units, no bias, identity activation, every
kernel `W = w * I` (w = 0.7, 1.0, 1.3), so `y_hat = w**L * x`. Keras Dense computes
`a_l = a_{l-1} @ W_l` (rows are examples, a_0 = X, a batch of B inputs); the loss is a squared
error against the target y = 0, `loss = 0.5 * mean_b ||a_L||**2`. With `tf.GradientTape`,
per layer l = 1..L, against the closed forms:

    ||a_l||              = w**l * ||X||                       # grows (w > 1) or shrinks by w per layer
    ||d loss / d a_l||   = w**(2L - l) * ||X|| / B            # grows by w per layer toward the input
    ||d loss / d W_l||   = w**(2L - 1) * ||X^T X|| / B        # the same for every layer l

since `d loss / d W_l = a_{l-1}^T (d loss / d a_l)` and all the `W = w * I` commute. The
kernels' gradients therefore do not differ from layer to layer: they explode or vanish with
the *depth* of the network, by w**2 per added layer (`||dW(L + 1)|| / ||dW(L)|| = w**2`).
Norms are Frobenius norms over the batch. The fixed input is x = (0.6, 0.8) (||x|| = 1), and a
small batch of `linear_batch_size` standard-normal inputs.

Part 2: `init_depth` ReLU (or sigmoid) layers of `init_width` units with biases, then 10
logits, softmax cross-entropy on a batch of standardized scikit-learn digits, at
initialization. Kernels drawn from He normal (std sqrt(2/n_in), the notes' rule for ReLU),
Glorot uniform (Keras's default, variance 2/(n_in + n_out)), a unit normal N(0, 1) and a tiny
normal N(0, 0.01**2); biases zero. Per layer: the kernel's gradient norm and the activations'
root mean square, over `seeds` initializations (mean and spread).

`spec.py` imports this module for DEFAULT_PARAMS when it reads any experiment file, so
TensorFlow, Keras, pandas and matplotlib are imported inside the functions that use them.
"""

import numpy as np

from experiments.evidence.findings import Finding, verdict_from
from experiments.kinds.result import KindResult
from experiments.outputs.figures import figure as _figure
from experiments.outputs.figures import save_figure, write_figures_to_tensorboard
from experiments.outputs.summaries import std as _std
from experiments.outputs.tables import display_table

DEFAULT_PARAMS = {
    "depth": 30,  # layers of the deep linear network
    "weight_scales": [0.7, 1.0, 1.3],  # w of W = w * I
    "linear_batch_size": 8,
    "init_depth": 10,  # hidden layers of the ReLU and sigmoid networks
    "init_width": 64,
    "init_batch_size": 256,  # digits examples the gradients are measured on
}
FIXED_INPUT = (0.6, 0.8)
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
RELATIVE_TOLERANCE = 1e-4  # float32 agreement with the closed forms, over up to 2L products


# --- part 1: the deep linear network ---------------------------------------------------------


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


def _ratios(values):
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
            activation_ratio = _ratios(np.concatenate([[np.linalg.norm(batch)], norms["activations"]]))
            backward_ratio = 1 / _ratios(norms["output_gradients"])  # layer l-1 over layer l
            measured[scale, input_name] = (norms, expected, error)
            rows.append({
                "network": f"deep linear, L={depth}",
                "setting": f"W = {scale:g} I",
                "input": input_name,
                "seeds": 1,
                "activation_growth_per_layer": float(np.mean(activation_ratio)),
                "output_gradient_growth_per_layer_toward_input": float(np.mean(backward_ratio)),
                "kernel_gradient_ratio_between_layers": float(np.mean(_ratios(norms["kernel_gradients"]))),
                "kernel_gradient_growth_per_added_layer": float(np.mean(_ratios(norms["kernel_gradient_by_depth"]))),
                "first_kernel_gradient_mean": norms["kernel_gradients"][0],
                "max_relative_error_vs_closed_form": error,
            })  # fmt: skip
        keras.backend.clear_session(free_memory=False)
    return rows, _linear_findings(measured, params), measured


def _linear_findings(measured, params):
    depth = params["depth"]
    scales = params["weight_scales"]
    error = max(e for _, _, e in measured.values())
    exact = error < RELATIVE_TOLERANCE
    per_scale = {scale: measured[scale, "x = (0.6, 0.8)"][0] for scale in scales}

    def growth(key, invert=False):
        parts = []
        for scale in scales:
            ratios = _ratios(per_scale[scale][key])
            ratios = 1 / ratios if invert else ratios
            parts.append(f"W = {scale:g} I: {np.min(ratios):.6g} to {np.max(ratios):.6g}")
        return "; ".join(parts)

    x_norm = float(np.linalg.norm(FIXED_INPUT))
    activation_ratios = {s: _ratios(np.concatenate([[x_norm], per_scale[s]["activations"]])) for s in scales}
    activations = "; ".join(
        f"W = {s:g} I: {np.min(r):.6g} to {np.max(r):.6g}, ||a_L|| = {per_scale[s]['activations'][-1]:.3g}"
        for s, r in activation_ratios.items()
    )
    # Geometric with depth: every added layer multiplies the kernel gradients by more (less) than 1.
    geometric = all(
        np.all(_ratios(per_scale[s]["kernel_gradient_by_depth"]) > 1)
        if s > 1
        else np.all(_ratios(per_scale[s]["kernel_gradient_by_depth"]) < 1)
        for s in scales
        if s != 1.0
    )
    return [
        Finding(
            "In a deep linear network with weights w·I the activations explode (w = 1.3) or vanish (w = 0.7) as w^l",
            verdict_from(exact, exact or error > 0.1),
            f"L = {depth}, ||x|| = {x_norm:g}: ||a_l|| / ||a_(l-1)|| per layer {activations}. Largest relative "
            f"difference from the closed form w^l ||x|| (and from the gradients' below), over every layer, "
            f"w and both inputs: {error:.2g} (float32; supported below {RELATIVE_TOLERANCE:g}).",
        ),
        Finding(
            "Gradients explode (w > 1) or vanish (w < 1) geometrically with the depth of the network",
            verdict_from(exact and geometric, exact or error > 0.1),
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


# --- part 2: deep ReLU and sigmoid networks under initializations -----------------------------


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
            _initialization_row(statistics, activation, init, depth, params["init_width"], len(x), seeds)
            for activation, init in statistics
        ]
        findings = _initialization_findings(statistics, depth, seeds)
    return rows, findings, statistics


def _initialization_row(statistics, activation, init, depth, width, batch_size, seeds):
    gradients, activations = statistics[activation, init]
    reference = statistics[activation, REFERENCE_INITIALIZER[activation]][0]
    hidden = gradients[:, :depth]
    return {
        "network": f"{activation} {depth}x{width}",
        "setting": init,
        "input": f"digits batch of {batch_size}",
        "seeds": seeds,
        "activation_growth_per_layer": float(np.mean(_geometric_growth(activations[:, :depth]))),
        "first_kernel_gradient_mean": float(np.mean(gradients[:, 0])),
        "first_kernel_gradient_std": _std(gradients[:, 0]),
        "output_kernel_gradient_mean": float(np.mean(gradients[:, -1])),
        "kernel_gradient_spread_across_layers": float(np.mean(gradients.max(axis=1) / gradients.min(axis=1))),
        "first_over_last_hidden_gradient": float(np.mean(hidden[:, 0] / hidden[:, -1])),
        "first_kernel_gradient_vs_reference": float(np.mean(gradients[:, 0]) / np.mean(reference[:, 0])),
        "layers_with_zero_gradient": float(np.mean(np.sum(gradients == 0, axis=1))),
    }


def _geometric_growth(values):
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


def _also_within(statistics, spread):
    others = [INITIALIZER_LABELS[i] for i in INITIALIZERS[1:] if np.all(spread("relu", i) < ORDER_OF_MAGNITUDE)]
    if not others:
        return ""
    return (
        f" So do {', '.join(others)}: with ReLU the initializations differ in the overall size of "
        f"the gradients (the next findings), not in their spread across layers."
    )


def _initialization_findings(statistics, depth, seeds):
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
            verdict_from(*_per_seed(he_spread < ORDER_OF_MAGNITUDE)),
            f"Largest over smallest kernel-gradient norm across the {depth + 1} layers, {seeds} seed(s): "
            + "; ".join(f"{INITIALIZER_LABELS[i]} {_range(spread('relu', i))}" for i in INITIALIZERS)
            + f". Supported if below {ORDER_OF_MAGNITUDE:g} on every seed."
            + _also_within(statistics, spread),
        )
    ]
    unit = relative_first("relu", "unit_normal")
    findings.append(Finding(
        "A unit-normal N(0, 1) initialization makes a deep ReLU network's gradients explode",
        verdict_from(*_per_seed(unit > EXPLODED)),
        f"First layer's kernel-gradient norm relative to He's: {_range(unit)} (supported above {EXPLODED:g} "
        f"on every seed); across layers it varies by {_range(spread('relu', 'unit_normal'))}, so every "
        f"layer's gradient is that large: activations grow by about sqrt(n/2) per layer "
        f"(measured {_range(_geometric_growth(statistics['relu', 'unit_normal'][1][:, :depth]))}).",
    ))  # fmt: skip
    tiny = {a: relative_first(a, "tiny_normal") for a in ACTIVATIONS}
    findings.append(Finding(
        "A tiny N(0, 0.01²) initialization makes the gradients vanish (ReLU and sigmoid)",
        verdict_from(*_per_seed(np.concatenate(list(tiny.values())) < VANISHED)),
        "First layer's kernel-gradient norm relative to the usual initialization (He for ReLU, "
        "Glorot for sigmoid): " + "; ".join(f"{a} {_range(tiny[a])}" for a in ACTIVATIONS)
        + f" (supported below {VANISHED:g} on every seed).",
    ))  # fmt: skip
    sigmoid = np.concatenate([toward_input("sigmoid", i) for i in INITIALIZERS])
    findings.append(Finding(
        "In a deep sigmoid network the gradients shrink toward the input layers, whatever the initialization",
        verdict_from(*_per_seed(sigmoid < 1 / ORDER_OF_MAGNITUDE)),
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
            f"{a} with {INITIALIZER_LABELS[i]} {_range(_geometric_growth(statistics[a, i][1][:, :depth]), 3)}"
            for a in ACTIVATIONS for i in INITIALIZERS
        ) + ".",
    ))  # fmt: skip
    return findings


# --- figures and run -------------------------------------------------------------------------


def _plot_deep_linear(measured, params, exp_dir):
    depth, scales = params["depth"], params["weight_scales"]
    colours = dict(zip(scales, ("tab:blue", "tab:grey", "tab:red", "tab:green", "tab:purple", "tab:orange")))
    figure = _figure(15, 4.4)
    axes = figure.subplots(1, 4)
    panels = (
        ("activations", "||a_l||, activations of layer l", "layer l"),
        ("output_gradients", "||d loss / d a_l||, backpropagated", "layer l"),
        ("kernel_gradients", "||d loss / d W_l||, kernel gradients", "layer l"),
        ("kernel_gradient_by_depth", "||d loss / d W|| of a network of depth d", "depth d"),
    )
    layers = np.arange(1, depth + 1)
    for ax, (key, title, xlabel) in zip(axes, panels):
        for scale in scales:
            norms, expected, _ = measured[scale, "x = (0.6, 0.8)"]
            ax.semilogy(layers, norms[key], "o", color=colours[scale], markersize=3, label=f"W = {scale:g} I, measured")
            ax.semilogy(
                layers,
                expected[key],
                "-",
                color=colours[scale],
                linewidth=1,
                alpha=0.6,
                label=f"W = {scale:g} I, closed form",
            )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    figure.suptitle(f"The notes' deep linear network: {depth} layers of W = w·I (2x2), input x = (0.6, 0.8), target 0")
    return save_figure(figure, exp_dir, "deep_linear.png")


def _plot_initializations(statistics, params, exp_dir):
    depth = params["init_depth"]
    colours = dict(zip(INITIALIZERS, ("tab:blue", "tab:green", "tab:red", "tab:purple")))
    figure = _figure(12, 8)
    axes = figure.subplots(2, 2)
    for row, activation in enumerate(ACTIVATIONS):
        underflow = {0: [], 1: []}  # a log axis cannot show zeros: name them instead
        for init in INITIALIZERS:
            gradients, activations = statistics[activation, init]
            for column, values, layers in (
                (0, activations[:, :depth], np.arange(1, depth + 1)),
                (1, gradients, np.arange(1, depth + 2)),
            ):
                ax = axes[row, column]
                ax.semilogy(
                    layers, values.mean(axis=0), "-o", color=colours[init], markersize=3, label=INITIALIZER_LABELS[init]
                )
                if len(values) > 1:
                    ax.fill_between(layers, values.min(axis=0), values.max(axis=0), color=colours[init], alpha=0.2)
                if np.any(values == 0):
                    underflow[column].append(INITIALIZER_LABELS[init])
        for column, names in underflow.items():
            if names:
                axes[row, column].text(
                    0.02,
                    0.02,
                    f"exactly 0 (float32 underflow), not drawn: {', '.join(names)}",
                    transform=axes[row, column].transAxes,
                    fontsize=7,
                )
        axes[row, 0].set_title(f"{activation}: root mean square of layer l's activations", fontsize=9)
        axes[row, 1].set_title(f"{activation}: kernel-gradient norm of layer l (layer {depth + 1}: logits)", fontsize=9)
        for ax in axes[row]:
            ax.set_xlabel("layer l")
            ax.grid(alpha=0.3, which="both")
        axes[row, 1].legend(fontsize=7)
    seeds = len(next(iter(statistics.values()))[0])
    figure.suptitle(
        f"Deep networks ({depth} x {params['init_width']}) at initialization on digits: "
        f"mean over {seeds} seed(s), band = min to max"
    )
    return save_figure(figure, exp_dir, "initializations.png")


def check_params(params):
    """Raises ValueError for values spec.py's type check lets through."""
    for name in ("depth", "init_depth"):
        if params[name] < 2:
            raise ValueError(f"params.{name} must be >= 2; got {params[name]!r}")
    for name in ("linear_batch_size", "init_width", "init_batch_size"):
        if params[name] < 1:
            raise ValueError(f"params.{name} must be >= 1; got {params[name]!r}")
    scales = params["weight_scales"]
    if not scales or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in scales):
        raise ValueError(f"params.weight_scales must list numbers > 0; got {scales!r}")


def run(params, seeds, exp_dir):
    """Both parts; `seeds` initializations per (activation, initializer) in part 2.
    Returns a KindResult: table, findings, figure names and the claims' measurements."""
    check_params(params)
    linear_rows, linear_findings, measured = study_deep_linear(params)
    init_rows, init_findings, statistics = study_initializations(params, seeds)
    figures = [_plot_deep_linear(measured, params, exp_dir), _plot_initializations(statistics, params, exp_dir)]
    write_figures_to_tensorboard(exp_dir, figures)
    table = display_table(linear_rows + init_rows)
    return KindResult(table, linear_findings + init_findings, figures, measurements(measured, statistics, params))


def measurements(measured, statistics, params):
    """The values the experiment file's claims decide on (experiments/evidence/claims.py, test "kind")."""
    x_norm = float(np.linalg.norm(FIXED_INPUT))
    growth_error = []
    for scale in params["weight_scales"]:
        if scale != 1.0:
            norms = measured[scale, "x = (0.6, 0.8)"][0]["activations"]
            growth_error += list(_ratios(np.concatenate([[x_norm], norms])) / scale - 1)
    depth = params["init_depth"]

    def log10_toward_input(activation, init):
        hidden = statistics[activation, init][0][:, :depth]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(hidden[:, 0] / hidden[:, -1])

    he = statistics["relu", "he_normal"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        he_spread = np.log10(he.max(axis=1) / he.min(axis=1))
    return {
        # Per layer, for each w != 1: ||a_l|| / ||a_(l-1)|| / w - 1 (0 for exactly geometric w^l).
        "linear_activation_growth_relative_error": [float(e) for e in growth_error],
        # Per seed: log10 of the largest over the smallest kernel-gradient norm across layers.
        "relu_he_log10_gradient_spread": [float(v) for v in he_spread],
        # Per seed: log10(first / last hidden gradient), sigmoid (Glorot) minus ReLU (He).
        "log10_gradient_toward_input_sigmoid_minus_relu": [
            float(s - r) for s, r in zip(log10_toward_input("sigmoid", "glorot_uniform"), log10_toward_input("relu", "he_normal"))
        ],
    }
