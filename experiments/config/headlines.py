"""An experiment's headline figure, as its spec declares it: the one plot that answers the
experiment's question at a glance (drawn by experiments/report/headline_figures.py).

    [headline]
    plot = "best_value"        # per seed, the value of `y` with the best `metric` at each value of `x`
    x = "batch_size"           #   (batch_size_lr: the best rate against the batch size, log-log)
    y = "learning_rate"
    metric = "val_loss"        #   what "best" means (default val_loss)
    reference_slope = 1.0      #   optional: a line of this slope on log-log axes (the linear-scaling rule)

    plot = "metric_against"    # `y` (a metric) against the setting `x`, one line per value of `by`
    x = "learning_rate"        #   (learning_rate: the U of too small and too large)
    y = "train_loss"
    by = "batch_norm"          #   optional
    at_epoch = 2               #   optional: the metric after this epoch, not at the end

    plot = "highest_stable"    # per seed, the highest `y` at which the run learned (ok), per value of `x`
    x = "batch_norm"           #   (batch_norm: the highest stable rate with and without it)
    y = "learning_rate"

    plot = "per_arm"           # `y` (a metric) per arm with one dot per seed; an arm run at several
    x = "arm"                  #   values of another setting shows its best one. x: "arm" (the [[arms]]
    y = "val_accuracy"         #   labels) or a setting the experiment varies
    at_epoch = 1               #   optional

Checked when the file is read: an unknown key, plot or metric, or an axis the experiment does
not vary, is an error naming what is allowed.
"""

import dataclasses

from experiments.config.metrics import higher_is_better

PLOTS = ("best_value", "metric_against", "highest_stable", "per_arm")
# The metrics a headline may show: a run's record's final metrics.
METRICS = ("val_loss", "val_accuracy", "train_loss", "train_accuracy", "best_val_accuracy")
# Metrics with a per-epoch history (`at_epoch`): the record's history key of each.
HISTORY_KEYS = {"val_loss": "val_loss", "val_accuracy": "val_accuracy", "train_loss": "loss", "train_accuracy": "accuracy"}
ARM = "arm"  # x = "arm": the [[arms]] labels
KEYS = {
    "best_value": {"plot", "x", "y", "metric", "reference_slope"},
    "metric_against": {"plot", "x", "y", "by", "at_epoch"},
    "highest_stable": {"plot", "x", "y"},
    "per_arm": {"plot", "x", "y", "at_epoch"},
}
Y_IS_METRIC = {"metric_against", "per_arm"}


@dataclasses.dataclass(frozen=True)
class Headline:
    plot: str
    x: str
    y: str
    metric: str = None  # best_value: what "best" means; the others: y itself
    by: str = None
    at_epoch: int = None
    reference_slope: float = None

    @property
    def higher_is_better(self):
        return higher_is_better(self.metric)


def parse(raw, experiment, fail):
    """The Headline of a spec's `[headline]` table (None without one); `experiment` is the parsed
    experiment (its kind, arms and varied settings); `fail(message)` raises the spec's error."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fail(f"[headline] must be a table; got {raw!r}")
    if experiment.kind != "mlp":
        fail(f"[headline] is for experiments of the mlp kind; a {experiment.kind!r} experiment draws its own figures")
    plot = raw.get("plot")
    if plot not in PLOTS:
        fail(f"headline.plot must be one of {list(PLOTS)}; got {plot!r}")
    unknown = set(raw) - KEYS[plot]
    if unknown:
        fail(f"headline: unknown key(s) {sorted(unknown)} for plot {plot!r}; allowed: {sorted(KEYS[plot])}")
    axes = list(experiment.varied_settings) + ([ARM] if experiment.arms else [])
    for key in ("x", "by"):
        if key in raw and raw[key] not in axes:
            fail(f"headline.{key} must be a setting the experiment varies ({', '.join(axes) or 'none'}); got {raw[key]!r}")
    if "x" not in raw:
        fail(f"headline.x is required: one of {', '.join(axes) or 'none (the experiment varies nothing)'}")
    y = raw.get("y")
    if plot in Y_IS_METRIC:
        if y not in METRICS:
            fail(f"headline.y must be a metric, one of {list(METRICS)}; got {y!r}")
        metric = y
    else:
        choices = [a for a in axes if a not in (ARM, raw["x"])]
        if y not in choices:
            fail(f"headline.y must be another setting the experiment varies ({', '.join(choices) or 'none'}); got {y!r}")
        metric = raw.get("metric", "val_loss")
        if metric not in METRICS:
            fail(f"headline.metric must be one of {list(METRICS)}; got {metric!r}")
    if raw.get("by") is not None and raw["by"] == raw["x"]:
        fail("headline.by must differ from headline.x")
    at_epoch = raw.get("at_epoch")
    if at_epoch is not None:
        if not isinstance(at_epoch, int) or isinstance(at_epoch, bool) or at_epoch < 1:
            fail(f"headline.at_epoch must be an integer >= 1; got {at_epoch!r}")
        if metric not in HISTORY_KEYS:
            fail(f"headline.at_epoch needs a metric with a per-epoch history ({', '.join(HISTORY_KEYS)}); got {metric!r}")
    slope = raw.get("reference_slope")
    if slope is not None and (isinstance(slope, bool) or not isinstance(slope, (int, float))):
        fail(f"headline.reference_slope must be a number; got {slope!r}")
    return Headline(plot, raw["x"], y, metric, raw.get("by"), at_epoch, None if slope is None else float(slope))
