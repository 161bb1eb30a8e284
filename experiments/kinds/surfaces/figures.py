"""The surfaces' figures: contours with the optimizers' paths."""

import numpy as np

from experiments.kinds.surfaces.landscapes import (
    DOUBLE_WELL,
    DOUBLE_WELL_HILL,
    NORMALIZED,
    SADDLE,
    SADDLE_ESCAPE,
    UNNORMALIZED,
)
from experiments.kinds.surfaces.measures import path_loss, sign_changes, steps_to_tolerance
from experiments.kinds.surfaces.stepping import LABELS, OPTIMIZERS
from experiments.outputs.figures import figure as _figure
from experiments.outputs.figures import save_figure

COLOURS = dict(zip(OPTIMIZERS, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))


def _contours(ax, surface, levels=24):
    w1 = np.linspace(surface.extent[0], surface.extent[1], 300)
    w2 = np.linspace(surface.extent[2], surface.extent[3], 300)
    grid1, grid2 = np.meshgrid(w1, w2)
    values = surface.loss(grid1, grid2)
    # Levels at quantiles of f: evenly spread lines whatever the surface's range.
    quantiles = np.unique(np.quantile(values, np.linspace(0, 1, levels + 2) ** 2)[1:-1])
    ax.contourf(grid1, grid2, values, levels=quantiles, cmap="Greys", alpha=0.35, extend="both")
    ax.contour(grid1, grid2, values, levels=quantiles, colors="grey", linewidths=0.5)
    ax.set_xlim(surface.extent[:2])
    ax.set_ylim(surface.extent[2:])
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.plot(
        *surface.minima[0],
        marker="*",
        color="gold",
        markeredgecolor="black",
        markersize=15,
        linestyle="",
        label="global minimum",
        zorder=5,
    )
    if len(surface.minima) > 1:
        marker = "*" if surface.name == "saddle" else "X"
        label = "another global minimum" if surface.name == "saddle" else "local minimum"
        for point in surface.minima[1:]:
            ax.plot(
                *point,
                marker=marker,
                color="white",
                markeredgecolor="black",
                markersize=11,
                linestyle="",
                label=label,
                zorder=5,
            )


def _draw_path(ax, path, colour, label, tolerance_step=None):
    end = len(path) if tolerance_step is None else tolerance_step + 1
    finite = np.all(np.isfinite(path[:end]), axis=1)
    ax.plot(
        path[:end][finite, 0], path[:end][finite, 1], "-o", color=colour, markersize=2.5, linewidth=1.0, label=label
    )
    ax.plot(*path[0], marker="o", color="black", markersize=7, linestyle="", label="start", zorder=6)


def _legend_once(ax, **kwargs):
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, **kwargs)


def plot_bowl_shared(shown, params, exp_dir, start, tolerance):
    fractions = sorted(set(params["bowl_learning_rate_fractions"]))
    fractions = fractions if len(fractions) <= 2 else [fractions[0], fractions[-1]]  # rows: lowest, highest
    names = ("gd", "momentum_ema", "momentum")
    figure = _figure(5.0 * len(names), 2.8 * len(fractions) + 0.6)
    axes = figure.subplots(len(fractions), len(names), squeeze=False)
    for row, fraction in enumerate(fractions):
        for column, name in enumerate(names):
            ax = axes[row, column]
            learning_rate, path = shown[fraction, name]
            _contours(ax, UNNORMALIZED)
            n = steps_to_tolerance(UNNORMALIZED, path, tolerance)
            _draw_path(ax, path, COLOURS[name], LABELS[name], n)
            reached = f"f < {tolerance:g} after {n} steps" if n is not None else "tolerance not reached"
            changes = sign_changes(path[: (n if n is not None else len(path) - 1) + 1, 1])
            ax.set_title(
                f"{LABELS[name]}, lr = {fraction:g} x 2/L = {learning_rate:.3g}\n"
                f"{reached}, {changes} sign changes of w2",
                fontsize=9,
            )
            _legend_once(ax, loc="lower right")
    figure.suptitle(
        f"Elongated bowl f = {UNNORMALIZED.formula} (axes not to scale): the same learning rate for all three"
    )
    return save_figure(figure, exp_dir, "bowl_shared_rate.png")


def plot_paths_grid(surface, paths, title, exp_dir, file_name, tolerance):
    names = list(paths)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure = _figure(5.0 * columns, 2.9 * rows + 0.6)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        note, path = paths[name]
        _contours(ax, surface)
        n = steps_to_tolerance(surface, path, tolerance)
        _draw_path(ax, path, COLOURS[name], LABELS[name], n)
        reached = f"f < {tolerance:g} after {n} steps" if n is not None else "tolerance not reached"
        ax.set_title(f"{LABELS[name]}, {note}\n{reached}", fontsize=9)
        _legend_once(ax, loc="lower right")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    figure.suptitle(title)
    return save_figure(figure, exp_dir, file_name)


def plot_normalization(results, exp_dir, tolerance):
    figure = _figure(12, 7.5)
    grid = figure.add_gridspec(2, 2, height_ratios=[1, 2.4])
    wide = figure.add_subplot(grid[0, :])
    square = figure.add_subplot(grid[1, 0])
    curves = figure.add_subplot(grid[1, 1])
    for ax, surface in ((square, NORMALIZED), (wide, UNNORMALIZED)):
        learning_rate, reached, _, _, path = results[surface.name]
        _contours(ax, surface)
        n = steps_to_tolerance(surface, path, tolerance)
        _draw_path(ax, path, "tab:blue", "gradient descent", n)
        ax.set_aspect("equal")
        ax.set_title(
            f"{surface.name}: f = {surface.formula}, lr = {learning_rate:.3g}: f < {tolerance:g} after {n} steps",
            fontsize=9,
        )
        _legend_once(ax, loc="upper right")
        losses = path_loss(surface, path)
        curves.semilogy(
            np.arange(len(losses)), np.maximum(losses, 1e-30), label=f"{surface.name} (lr = {learning_rate:.3g})"
        )
    curves.axhline(tolerance, color="grey", linestyle=":", label="tolerance")
    curves.set_ylim(1e-12, 1e3)
    curves.set_xlabel("step")
    curves.set_ylabel("f")
    curves.set_title("Loss per step, gradient descent at each surface's best rate", fontsize=9)
    curves.legend(fontsize=8)
    figure.suptitle("Normalized vs unnormalized inputs (equal scales on both axes of each contour plot)")
    return save_figure(figure, exp_dir, "normalization.png")


def plot_saddle(shown, exp_dir):
    figure = _figure(13, 5.2)
    contour, escape = figure.subplots(1, 2)
    _contours(contour, SADDLE)
    contour.plot(
        0,
        0,
        marker="P",
        color="white",
        markeredgecolor="black",
        markersize=10,
        linestyle="",
        label="saddle point",
        zorder=5,
    )
    for name, (learning_rate, path) in shown.items():
        _draw_path(contour, path, COLOURS[name], f"{LABELS[name]} (lr = {learning_rate:.3g})")
        w2 = np.abs(path[:, 1])
        escape.semilogy(np.arange(len(w2)), np.maximum(w2, 1e-30), color=COLOURS[name], label=LABELS[name])
    escape.axhline(SADDLE_ESCAPE, color="grey", linestyle=":", label="escaped")
    escape.set_xlim(0, 150)
    escape.set_ylim(1e-5, 10)
    escape.set_xlabel("step")
    escape.set_ylabel("|w2| (distance across the ridge)")
    escape.set_title("Leaving the saddle: |w2| per step (first 150 steps)", fontsize=9)
    escape.legend(fontsize=7)
    contour.set_title(f"f = {SADDLE.formula}, start near the ridge w2 = 0", fontsize=9)
    _legend_once(contour, loc="lower left")
    figure.suptitle("Saddle point: each optimizer at its own best learning rate")
    return save_figure(figure, exp_dir, "saddle.png")


def plot_double_well(shown, box, found, exp_dir):
    figure = _figure(13, 5.2)
    paths, starts = figure.subplots(1, 2)
    for ax in (paths, starts):
        _contours(ax, DOUBLE_WELL)
        ax.axvline(DOUBLE_WELL_HILL, color="black", linestyle="--", linewidth=0.8, label="top of the hill")
    for name, (note, path) in shown.items():
        _draw_path(paths, path, COLOURS[name], f"{LABELS[name]} ({note})")
    paths.set_title("From the worse side: who rolls over the hill?", fontsize=9)
    starts.scatter(box[found, 0], box[found, 1], color="tab:green", s=18, label="start → global minimum", zorder=4)
    starts.scatter(
        box[~found, 0], box[~found, 1], color="tab:red", marker="x", s=18, label="start → local minimum", zorder=4
    )
    starts.set_title(
        f"Gradient descent from {len(box)} random starts: {int(found.sum())} find the global minimum", fontsize=9
    )
    _legend_once(paths, loc="lower left")
    _legend_once(starts, loc="lower left")
    figure.suptitle(f"Double well f = {DOUBLE_WELL.formula}")
    return save_figure(figure, exp_dir, "double_well.png")

