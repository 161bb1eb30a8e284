"""An experiment's headline figure, `headline.png`: the one plot that answers its question at a
glance, as its spec's `[headline]` declares (experiments/config/headlines.py), from the numbers
of experiments/report/headline_data.py. Every seed is a dot; the line is their mean (geometric
on a log axis).

`write` draws it beside the experiment's runs, with the learning curves after it, and puts both
in TensorBoard's Images dashboard (the run `figures` in the experiment's directory).
"""

import math
import os
import textwrap

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

from experiments.outputs import events, figures
from experiments.report import headline_data

HEADLINE_FILE = "headline.png"
DOT = {"alpha": 0.55, "s": 22, "zorder": 3}
MEAN = {"lw": 2, "marker": "o", "ms": 7, "zorder": 4}
STATUS_MARKS = {"diverged": ("x", "tab:red"), "did_not_learn": ("o", "tab:gray"), "failed": ("s", "black")}


def write(experiment, records, exp_dir):
    """headline.png (when the spec declares one) and the curves' PNG already written, into the
    TensorBoard run exp_dir/figures; returns the figures' file names, the headline first."""
    names = [figures.CURVES_FILE]
    if experiment.headline is not None:
        draw(experiment, records, os.path.join(exp_dir, HEADLINE_FILE))
        names.insert(0, HEADLINE_FILE)
    present = [n for n in names if os.path.exists(os.path.join(exp_dir, n))]
    images = [(os.path.splitext(n)[0], os.path.join(exp_dir, n)) for n in present]
    events.write_run(os.path.join(exp_dir, figures.TENSORBOARD_DIR), (), images, suffix="figures")
    return present


def draw(experiment, records, path):
    """Draws the declared headline of `experiment` from `records` into `path`; returns the file name."""
    h = experiment.headline
    data = headline_data.headline_data(records, experiment)
    fig = figures.figure(7, 4.8)
    ax = fig.subplots()
    DRAW[h.plot](ax, data, experiment)
    ax.grid(alpha=0.3)
    fig.suptitle(textwrap.fill(f"{experiment.name}: {experiment.question}", 80), fontsize=10)
    return figures.save_figure(fig, os.path.dirname(path), os.path.basename(path), dpi=110)


def _positions(values):
    """x positions for categorical values (in the order given) and their tick labels."""
    return {v: i for i, v in enumerate(values)}


def _jitter(n, width=0.08, seed=0):
    return np.random.default_rng(seed).uniform(-width, width, n)


def _log_ok(values):
    values = np.asarray([v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)], float)
    return values.size > 0 and (values > 0).all() and values.max() / values.min() >= 10


def _grid_values(experiment, name):
    values = list(experiment.vary.get(name, [])) + list(experiment.tune.get(name, []))
    values += [arm[name] for arm in experiment.arms if name in arm]
    return sorted({v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)})


def _geomean(values):
    values = np.asarray(values, float)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.log(values).mean())) if values.size else math.nan


def draw_best_value(ax, data, experiment):
    h = experiment.headline
    for y in _grid_values(experiment, h.y):
        ax.axhline(y, color="0.85", lw=0.8, zorder=1)
    xs = sorted(data[h.x].unique())
    ax.scatter(data[h.x] * np.exp(_jitter(len(data), 0.06)), data[h.y], color="tab:blue", label="one seed", **DOT)
    means = [_geomean(data[data[h.x] == x][h.y]) for x in xs]
    slope = headline_data.log_slope(data[h.x], data[h.y]) if len(data) else math.nan
    ax.plot(xs, means, color="tab:blue", label=f"geometric mean over seeds (fitted slope {slope + 0.0:.2f})", **MEAN)
    if h.reference_slope is not None and xs and math.isfinite(means[0]):
        line = np.geomspace(min(xs), max(xs), 50)
        ax.plot(line, means[0] * (line / xs[0]) ** h.reference_slope, "--", color="black", lw=1.2,
                label=f"slope {h.reference_slope:g} from the first point")
    _log_axes(ax, xs, True)
    ax.set_xscale("log")  # even within a decade
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(h.x)
    best = "highest" if h.higher_is_better else "lowest"
    ax.set_ylabel(f"best {h.y} ({best} {h.metric}; grey: the grid)")
    ax.legend(fontsize=8)


def draw_metric_against(ax, data, experiment):
    h = experiment.headline
    lines = list(dict.fromkeys(data[h.by])) if h.by else [None]
    ok = data[(data.status == "ok") & data.value.notna()]
    kept = data.value[(data.status != "diverged") & data.value.notna()]  # a diverged loss would set the scale
    top = float(kept.max()) * 1.5 if len(kept) else 1.0
    for colour, value in zip(matplotlib_colours(len(lines)), lines):
        rows = ok if value is None else ok[ok[h.by] == value]
        name = "" if value is None else f"{h.by}={value}: "
        ax.scatter(rows[h.x], rows.value, color=colour, **DOT)
        xs = sorted((data if value is None else data[data[h.by] == value])[h.x].unique())
        means = [rows[rows[h.x] == x].value.mean() for x in xs]  # NaN where no seed learned: a gap
        ax.plot(xs, means, color=colour, label=f"{name}mean of the seeds that learned (ok)", **MEAN)
        if any(math.isfinite(m) for m in means):
            best = int(np.nanargmax(means) if h.higher_is_better else np.nanargmin(means))
            ax.annotate(f"best: {h.x}={xs[best]:g}", (xs[best], means[best]), textcoords="offset points",
                        xytext=(8, -14), fontsize=8, color=colour)
    for status, (marker, colour) in STATUS_MARKS.items():
        bad = data[data.status == status]
        if len(bad):  # a run that did not learn at its (stagnant) value; one with no value at the top
            where = bad.value.where(bad.value.notna() & (status != "diverged"), top)
            ax.scatter(bad[h.x], where, marker=marker, s=50, zorder=5, label=f"{status.replace('_', ' ')} ({len(bad)} runs)"
                       + (", drawn at the top" if status == "diverged" else ""),
                       **({"color": colour} if marker == "x" else {"facecolors": "none", "edgecolors": colour}))
    _log_axes(ax, data[h.x], "loss" in h.y and (kept > 0).all())
    ax.set_xlabel(h.x)
    ax.set_ylabel(h.y + (f" after epoch {h.at_epoch}" if h.at_epoch else " at the end"))
    ax.legend(fontsize=8)


def _log_axes(ax, xs, log_y):
    """Log axes where the values span decades, ticks at the values themselves, no minor labels."""
    if _log_ok(xs):
        ax.set_xscale("log")
        values = sorted(set(xs))
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.xaxis.set_minor_formatter(NullFormatter())
    if log_y:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if str(value)[0] in "25" else ""))


def draw_highest_stable(ax, data, experiment):
    h = experiment.headline
    grid = _grid_values(experiment, h.y)
    values = list(dict.fromkeys(sorted(data[h.x].unique(), key=str)))
    where = _positions(values)
    floor = min(grid) / 3 if grid else 1e-3
    shown = data[h.y].fillna(floor)
    ax.scatter(data[h.x].map(where) + _jitter(len(data), 0.12), shown * np.exp(_jitter(len(data), 0.05, 1)),
               color="tab:blue", label="one seed (at the bottom: no rate learned)", **DOT)
    for x in values:
        mean = _geomean(data[data[h.x] == x][h.y])
        ax.plot([where[x] - 0.25, where[x] + 0.25], [mean, mean], color="black", lw=2.5, zorder=4)
    ax.plot([], [], color="black", lw=2.5, label="geometric mean over seeds")
    ax.set_yscale("log")
    if grid:
        ax.set_yticks(grid, [f"{g:g}" for g in grid])
        ax.set_ylim(floor / 1.5, max(grid) * 1.5)
    ax.set_xticks(range(len(values)), [f"{h.x}={v}" for v in values])
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_ylabel(f"highest {h.y} at which the run learned (ok)")
    ax.legend(fontsize=8)


def draw_per_arm(ax, data, experiment):
    h = experiment.headline
    values = list(dict.fromkeys(data[h.x]))
    where = _positions(values)
    ok = data[data.value.notna()]
    ax.scatter(ok[h.x].map(where) + _jitter(len(ok), 0.12), ok.value, color="tab:blue", label="one seed", **DOT)
    labels = []
    for x in values:
        rows = data[data[h.x] == x]
        vals = rows.value.dropna()
        if len(vals):
            ax.errorbar(where[x] + 0.2, vals.mean(), yerr=vals.std(ddof=1) if len(vals) > 1 else 0, fmt="o",
                        color="black", capsize=4, zorder=4)
        group = rows.group.iloc[0]
        label = x if h.x == "arm" else f"{h.x}={x}"
        labels.append(f"{label}\n{group}\n{len(vals)}/{len(rows)} ok" if group != str(x) else f"{label}\n{len(vals)}/{len(rows)} ok")
    ax.errorbar([], [], yerr=[], fmt="o", color="black", capsize=4, label="mean ± std over seeds")
    ax.set_xticks(range(len(values)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_ylabel(h.y + (f" after epoch {h.at_epoch}" if h.at_epoch else " at the end"))
    ax.legend(fontsize=8)


def matplotlib_colours(n):
    import matplotlib

    return matplotlib.colormaps["tab10"](np.arange(n) % 10)


DRAW = {"best_value": draw_best_value, "metric_against": draw_metric_against,
        "highest_stable": draw_highest_stable, "per_arm": draw_per_arm}  # fmt: skip
