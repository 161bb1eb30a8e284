"""Figure helpers every experiment shares: a pyplot-free figure, an atomic PNG write, the same
PNGs in TensorBoard's Images tab, and the learning curves of a sweep: one line and one band per
configuration, small multiples past MAX_LINES configurations.

Learning curves keep their y-range on the runs that learned: a run that diverged (or did not
learn) would stretch a log axis to 1e32, so its curve is clipped at the top edge of the range
the learned runs span, and its last point there is marked with an x.
"""

import os

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (the report's forest plot uses pyplot)
import numpy as np  # noqa: E402

TENSORBOARD_DIR = "figures"
CURVES_FILE = "curves.png"


def figure(width, height):
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, exp_dir, file_name, dpi=100):
    """Writes `fig` to exp_dir/file_name atomically (temp name, then rename); returns the name."""
    os.makedirs(exp_dir, exist_ok=True)
    path = os.path.join(exp_dir, file_name)
    temporary = os.path.join(exp_dir, f".tmp-{os.getpid()}-{file_name}")
    fig.savefig(temporary, dpi=dpi, format="png")
    if hasattr(fig, "number"):  # a pyplot figure: release it
        plt.close(fig)
    os.replace(temporary, path)
    return file_name


def write_figures_to_tensorboard(exp_dir, file_names):
    """The same PNGs as `tf.summary.image`s in exp_dir/figures (TensorBoard's Images tab),
    tagged by file name without `.png`."""
    import tensorflow as tf

    directory = os.path.join(exp_dir, TENSORBOARD_DIR)
    if os.path.isdir(directory):  # a rerun replaces the figures rather than adding a second set
        for name in os.listdir(directory):
            if name.startswith("events.out.tfevents."):
                os.remove(os.path.join(directory, name))
    writer = tf.summary.create_file_writer(directory)
    with writer.as_default():
        for file_name in file_names:
            image = tf.image.decode_png(tf.io.read_file(os.path.join(exp_dir, file_name)), channels=3)
            tf.summary.image(os.path.splitext(file_name)[0], image[None], step=0)
    writer.close()


def learned_range(curves, pad=1.5):
    """(low, high) of a log axis spanning the finite values of the curves that learned."""
    values = np.concatenate([c[np.isfinite(c) & (c > 0)] for c in curves] or [np.array([])])
    if values.size == 0:
        return None
    return float(values.min()) / pad, float(values.max()) * pad


def plot_curves(records, path, title, facets=None):
    """Validation and training loss per epoch: one line per configuration, the mean of its seeds
    that learned, with a band from their lowest to their highest value; where none of a
    configuration's seeds learned, each is a thin dashed line. More than MAX_LINES configurations
    are split into small multiples, one panel per value of one setting (`facets`: per record,
    {setting: value}), the same colour for the same remaining settings in every panel. Where a
    curve leaves the learned runs' range it ends at the edge with an x."""
    groups, facet_of = {}, {}
    for i, record in enumerate(records):
        if record.get("history"):
            groups.setdefault(record["group"], []).append(record)
            facet_of.setdefault(record["group"], facets[i] if facets else {})
    panels = split_panels(groups, facet_of)
    labels = list(dict.fromkeys(label for panel in panels.values() for label in panel.values()))
    palette = "tab10" if len(labels) <= 10 else "viridis"
    colours = dict(zip(labels, matplotlib.colormaps[palette](np.linspace(0, 0.9, len(labels)) if palette == "viridis" else np.arange(len(labels)))))
    columns = min(len(panels), 4)
    rows = 2 * -(-len(panels) // columns) if len(panels) > 1 else 1
    fig = figure(max(12, 3.6 * columns), 4.5 if rows == 1 else 2.9 * rows)
    axes = np.atleast_2d(fig.subplots(rows, 2 if rows == 1 else columns, sharex=True, squeeze=False))
    for key, name in (("val_loss", "validation loss"), ("loss", "training loss")):
        every = [np.asarray(r["history"].get(key, []), float) for rs in groups.values() for r in rs]
        learned = [c for c, r in zip(every, (r for rs in groups.values() for r in rs)) if r["status"] == "ok"]
        limits = learned_range(learned) or learned_range(every)
        for index, (panel_name, panel) in enumerate(panels.items()):
            ax = _panel_axes(axes, rows, columns, index, key)
            for group, label in panel.items():
                _plot_configuration(ax, groups[group], key, limits, colours[label], label)
            ax.set_title(f"{name}{f': {panel_name}' if panel_name else ''}", fontsize=9)
            ax.set_yscale("log")
            if limits:
                ax.set_ylim(*limits)
            ax.grid(alpha=0.3)
            if key == "loss" or rows == 1:
                ax.set_xlabel("epoch")
    for ax in axes.flat:
        if not ax.has_data():
            ax.set_visible(False)
    legend = {}
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(name, handle)
    fig.legend(list(legend.values()), list(legend), fontsize=7, loc="outside right upper")
    fig.suptitle(f"{title}\nline: mean of the seeds that learned, band: their min to max; dashed: none learned; "
                 "x: left the learned runs' range", fontsize=9)
    return save_figure(fig, os.path.dirname(path), os.path.basename(path), dpi=110)


MAX_LINES = 8  # configurations in one panel; more are split into small multiples


def split_panels(groups, facet_of):
    """{panel title: {group: line label}}: one panel when MAX_LINES or fewer groups; else one per
    value of the setting that leaves at most MAX_LINES per panel in the fewest panels; else the
    groups in order, MAX_LINES at a time."""
    if len(groups) <= MAX_LINES:
        return {"": {group: group for group in groups}}
    names = list(dict.fromkeys(name for facets in facet_of.values() for name in facets))
    best = None
    for name in names:
        values = list(dict.fromkeys(facet_of[g].get(name) for g in groups))
        largest = max(sum(facet_of[g].get(name) == v for g in groups) for v in values)
        if 1 < len(values) and largest <= MAX_LINES and (best is None or len(values) < len(best[1])):
            best = (name, values)
    if best is None:
        chunks = [list(groups)[i:i + MAX_LINES] for i in range(0, len(groups), MAX_LINES)]
        return {f"{i + 1} of {len(chunks)}": {g: g for g in chunk} for i, chunk in enumerate(chunks)}
    name, values = best
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        values = sorted(values)
    return {f"{name}={value}": {g: _rest_label(facet_of[g], name) or g for g in groups if facet_of[g].get(name) == value}
            for value in values}  # fmt: skip


def _rest_label(facets, split):
    return " ".join(f"{k}={v}" if k != "arm" else str(v) for k, v in facets.items() if k != split)


def _panel_axes(axes, rows, columns, index, key):
    """Validation loss on the left (one panel) or in the upper row of each pair of rows."""
    if rows == 1:
        return axes[0, 0 if key == "val_loss" else 1]
    row, column = divmod(index, columns)
    return axes[2 * row + (key != "val_loss"), column]


def _plot_configuration(ax, runs, key, limits, colour, label):
    curves = [np.asarray(r["history"].get(key, []), float) for r in runs]
    ok = [c for c, r in zip(curves, runs) if r["status"] == "ok"]
    length = min((len(c) for c in ok), default=0)
    if length:
        stacked = np.array([c[:length] for c in ok])
        epochs = np.arange(1, length + 1)
        ax.fill_between(epochs, stacked.min(axis=0), stacked.max(axis=0), color=colour, alpha=0.2, lw=0)
        ax.plot(epochs, stacked.mean(axis=0), color=colour, lw=1.8, label=label)
        if len(ok) < len(runs):  # the seeds the line leaves out
            ax.annotate(f"{len(ok)}/{len(runs)} ok", (length, stacked.mean(axis=0)[-1]), textcoords="offset points",
                        xytext=(3, 0), fontsize=7, color=colour, va="center")
    for curve, record in zip(curves, runs):
        if record["status"] != "ok":
            shown, escaped = clip_to_range(curve, limits)
            if not length:  # none learned: each seed dashed, thin
                ax.plot(np.arange(1, len(shown) + 1), shown, "--", color=colour, lw=0.9, alpha=0.7)
            if escaped:
                ax.plot(len(shown), shown[-1], "x", color=colour, ms=6, mew=1.5)
    if not length:
        ax.plot([], [], "--", color=colour, label=label)
        shown = clip_to_range(curves[0], limits)[0] if curves and curves[0].size else np.array([np.nan])
        ax.annotate(f"0/{len(runs)} ok", (len(shown), shown[-1]), textcoords="offset points", xytext=(3, 0),
                    fontsize=7, color=colour, va="center")


def clip_to_range(curve, limits):
    """The curve up to where it leaves the range (that point set to the edge), and whether it left."""
    if limits is None or curve.size == 0:
        return curve, False
    outside = ~np.isfinite(curve) | (curve > limits[1])
    if not outside.any():
        return curve, False
    first = int(np.argmax(outside))
    shown = curve[: first + 1].copy()
    shown[-1] = limits[1]
    return shown, True
