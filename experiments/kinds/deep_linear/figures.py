"""The deep linear network's norms per layer, and the initializations' gradient norms per layer."""

import numpy as np

from experiments.kinds.deep_linear.initializations import ACTIVATIONS, INITIALIZER_LABELS, INITIALIZERS
from experiments.outputs.figures import figure as _figure
from experiments.outputs.figures import save_figure


def plot_deep_linear(measured, params, exp_dir):
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


def plot_initializations(statistics, params, exp_dir):
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
