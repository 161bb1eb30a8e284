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

from experiments.kinds.deep_linear.figures import plot_deep_linear, plot_initializations
from experiments.kinds.deep_linear.initializations import study_initializations
from experiments.kinds.deep_linear.linear import FIXED_INPUT, layer_ratios, study_deep_linear
from experiments.kinds.result import KindResult
from experiments.outputs.figures import write_figures_to_tensorboard
from experiments.outputs.tables import table_of_rows

DEFAULT_PARAMS = {
    "depth": 30,  # layers of the deep linear network
    "weight_scales": [0.7, 1.0, 1.3],  # w of W = w * I
    "linear_batch_size": 8,
    "init_depth": 10,  # hidden layers of the ReLU and sigmoid networks
    "init_width": 64,
    "init_batch_size": 256,  # digits examples the gradients are measured on
}


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
    figures = [plot_deep_linear(measured, params, exp_dir), plot_initializations(statistics, params, exp_dir)]
    write_figures_to_tensorboard(exp_dir, figures)
    table = table_of_rows(linear_rows + init_rows)
    return KindResult(table, linear_findings + init_findings, figures, measurements(measured, statistics, params))


def measurements(measured, statistics, params):
    """The values the experiment file's claims decide on (experiments/evidence/claims.py, test "kind")."""
    x_norm = float(np.linalg.norm(FIXED_INPUT))
    growth_error = []
    for scale in params["weight_scales"]:
        if scale != 1.0:
            norms = measured[scale, "x = (0.6, 0.8)"][0]["activations"]
            growth_error += list(layer_ratios(np.concatenate([[x_norm], norms])) / scale - 1)
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
