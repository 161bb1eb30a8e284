"""The notes' 3-D pictures (note 002): the normalized surface `w1² + w2²` and the unnormalized one
(w1 ten times wider), each optimizer's path drawn on them.

    surface_normalized.html, surface_unnormalized.html   interactive (plotly): open in a browser, offline,
                                                          no server; they load plotly.min.js beside them
    plotly.min.js                                         plotly's JavaScript, written once for both pages
    surfaces_3d.png                                       both surfaces side by side (matplotlib 3-D),
                                                          for REPORT.md and TensorBoard's Images

Every optimizer starts from the same point, relative to each surface's width, at one learning
rate per optimizer (RATES) for PATH_STEPS steps: on the unnormalized bowl the flat axis crawls
for gradient descent and momentum, while RMSprop and Adam rescale it.
"""

import os

import numpy as np

from experiments.kinds.surfaces.landscapes import NORMALIZED, UNNORMALIZED
from experiments.kinds.surfaces.stepping import LABELS
from experiments.outputs import files

PATH_STEPS = 60
START = (0.8, 0.8)  # of each surface's half-width along w1 and w2
RATES = {"gd": 0.2, "momentum": 0.02, "momentum_ema": 0.2, "rmsprop": 0.3, "adam": 0.5}  # Keras momentum: lr * 1/(1-0.9)
COLOURS = {"gd": "#1f77b4", "momentum": "#ff7f0e", "momentum_ema": "#2ca02c", "rmsprop": "#d62728", "adam": "#9467bd"}
PNG_FILE = "surfaces_3d.png"


def page_name(surface):
    return f"surface_{surface.name}.html"


def paths_on(surface, steppers):
    """{optimizer: (steps + 1, 2) path} from the shared start."""
    w1_max, w2_max = surface.extent[1], surface.extent[3]
    start = (START[0] * w1_max, START[1] * w2_max)
    return {name: steppers(surface, name).path(start, rate, PATH_STEPS) for name, rate in RATES.items()}


def _grid(surface, points=60):
    w1 = np.linspace(surface.extent[0], surface.extent[1], points)
    w2 = np.linspace(surface.extent[2], surface.extent[3], points)
    w1, w2 = np.meshgrid(w1, w2)
    return w1, w2, surface.loss(w1, w2)


PLOTLY_JS = "plotly.min.js"


def plotly_page(surface, paths, title, plotlyjs=True):
    """The HTML of one surface with the paths: plotly's JavaScript inlined (`plotlyjs=True`, one
    file that stands alone) or, with "directory", loaded from plotly.min.js beside the page."""
    return plotly_figure(surface, paths, title).to_html(include_plotlyjs=plotlyjs, full_html=True)


def plotly_figure(surface, paths, title):
    """One surface with the paths as a plotly figure (`.show()` draws it inline in a notebook)."""
    import plotly.graph_objects as go

    w1, w2, loss = _grid(surface)
    fig = go.Figure(go.Surface(x=w1, y=w2, z=loss, colorscale="Viridis", opacity=0.85, showscale=False))
    for name, path in paths.items():
        height = surface.loss(path[:, 0], path[:, 1])
        fig.add_trace(go.Scatter3d(
            x=path[:, 0], y=path[:, 1], z=height, mode="lines+markers", name=LABELS.get(name, name),
            line={"color": COLOURS[name], "width": 5}, marker={"size": 2, "color": COLOURS[name]},
        ))  # fmt: skip
    fig.update_layout(
        title=title, scene={"xaxis_title": "w1", "yaxis_title": "w2", "zaxis_title": "J(w1, w2)",
                            "aspectmode": "manual", "aspectratio": {"x": 1, "y": 1, "z": 0.6}},
        margin={"l": 0, "r": 0, "t": 40, "b": 0}, legend={"x": 0.01, "y": 0.95},
    )  # fmt: skip
    return fig


def static_figure(surfaces_and_paths):
    """Both surfaces side by side in matplotlib 3-D, the paths on them."""
    from experiments.outputs.figures import figure

    fig = figure(12, 5.2)
    for index, (surface, paths, title) in enumerate(surfaces_and_paths, start=1):
        ax = fig.add_subplot(1, len(surfaces_and_paths), index, projection="3d")
        w1, w2, loss = _grid(surface, 40)
        ax.plot_surface(w1, w2, loss, cmap="viridis", alpha=0.55, linewidth=0)
        for name, path in paths.items():
            ax.plot(path[:, 0], path[:, 1], surface.loss(path[:, 0], path[:, 1]), color=COLOURS[name],
                    lw=1.8, label=LABELS.get(name, name))  # fmt: skip
        ax.set(title=title, xlabel="w1", ylabel="w2", zlabel="J")
        ax.view_init(elev=35, azim=-120)
    fig.axes[0].legend(loc="upper left", fontsize=7)
    return fig


def write(exp_dir, steppers):
    """Writes the two HTML pages, plotly.min.js once beside them, and the PNG; returns the figure
    names (the PNG) for the report."""
    from plotly.offline import get_plotlyjs

    files.write_text_atomic(os.path.join(exp_dir, PLOTLY_JS), get_plotlyjs())  # ~4.6 MB once, not in each page
    shown = []
    for surface in (NORMALIZED, UNNORMALIZED):
        title = f"{surface.name.capitalize()} inputs: J = {surface.formula}, w1 in [{surface.extent[0]}, {surface.extent[1]}]"
        paths = paths_on(surface, steppers)
        files.write_text_atomic(os.path.join(exp_dir, page_name(surface)), plotly_page(surface, paths, title, "directory"))
        shown.append((surface, paths, title))
    from experiments.outputs.figures import save_figure

    return [save_figure(static_figure(shown), exp_dir, PNG_FILE)]
