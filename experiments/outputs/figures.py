"""Figure helpers every experiment shares: a pyplot-free figure, an atomic PNG write, the same
PNGs in TensorBoard's Images tab, and the learning curves of a sweep.

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


def plot_curves(records, path, title):
    """Validation and training loss per epoch; one colour per configuration, seeds as thin lines
    and the mean of the learned seeds as a thick one. Runs that did not learn are dashed;
    where a curve leaves the learned runs' range it ends at the edge with an x."""
    fig = figure(12, 4.5)
    axes = fig.subplots(1, 2, sharex=True)
    groups = {}
    for record in records:
        if record.get("history"):
            groups.setdefault(record["group"], []).append(record)
    colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.95, max(1, len(groups))))
    for ax, key, name in zip(axes, ("val_loss", "loss"), ("validation loss", "training loss")):
        learned = [np.asarray(r["history"].get(key, []), float) for rs in groups.values() for r in rs if r["status"] == "ok"]
        limits = learned_range(learned) or learned_range(
            [np.asarray(r["history"].get(key, []), float) for rs in groups.values() for r in rs]
        )
        for colour, (group, runs) in zip(colours, groups.items()):
            ok_curves = []
            for record in runs:
                curve = np.asarray(record["history"].get(key, []), float)
                style = "-" if record["status"] == "ok" else "--"
                shown, escaped = clip_to_range(curve, limits)
                ax.plot(np.arange(1, len(shown) + 1), shown, style, color=colour, alpha=0.35, lw=0.8)
                if escaped:
                    ax.plot(len(shown), shown[-1], "x", color=colour, ms=7, mew=2)
                if record["status"] == "ok":
                    ok_curves.append(curve)
            length = min((len(c) for c in ok_curves), default=0)
            if length:
                mean = np.mean([c[:length] for c in ok_curves], axis=0)
                ax.plot(np.arange(1, length + 1), mean, color=colour, lw=2, label=f"{group} ({len(ok_curves)}/{len(runs)} ok)")
            else:  # no mean to draw: the legend still names the configuration
                ax.plot([], [], "--", color=colour, label=f"{group} (0/{len(runs)} ok)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_yscale("log")
        if limits:
            ax.set_ylim(*limits)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{title}\nx: left the range of the runs that learned; dashed: did not learn", fontsize=10)
    return save_figure(fig, os.path.dirname(path), os.path.basename(path), dpi=110)


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
