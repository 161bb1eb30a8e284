"""Per-layer gradient, weight and update statistics, and vanishing/exploding gradient flags."""

import math
import warnings

import keras

from callbacks.gradient_probe import PACKED, make_probe
from callbacks.summary_writers import StepCounter, SummaryWriter, logging_steps, variable_name
from optimizers.validation import check_positive, check_positive_integer


class GradientStatistics(keras.callbacks.Callback):
    """Per-variable L2 norms of gradients, weights and updates, histograms, and alerts.

    Where the gradients come from: Keras's `fit` does not hand gradients to callbacks, so
    every `log_every_n_steps` steps this callback computes them itself, just before the step
    runs, on a fixed *probe batch* `probe_data` at the weights that step starts from:

    ```python
    y_pred = model(x_probe, training=True)      # dropout and batch norm as in training
    loss = model.compute_loss(x_probe, y_probe, y_pred, sample_weight_probe)
    gradient[v] = d loss / d v                  # for each trainable variable v
    ```

    inside `keras.StatelessScope`, so batch-norm statistics, dropout seeds and metrics are not
    changed: training goes on exactly as without the callback. A fixed batch makes the curves
    comparable across steps (no mini-batch noise from changing data); the values are those of
    the probe batch, not of the step's own batch, and are taken before gradient clipping.

    Per trainable variable v, at logged step t (1-based optimizer step; `w` are the weights
    step t starts from, `w_new` those it leaves):

    ```python
    gradients/norm/<v>  = ||gradient[v]||            gradients/global_norm = sqrt(sum ||g||^2)
    weights/norm/<v>    = ||w[v]||
    updates/norm/<v>    = ||w_new[v] - w[v]||        # the step actually taken
    updates/ratio/<v>   = ||w_new[v] - w[v]|| / ||w[v]||   # NaN where ||w[v]|| == 0
    ```

    For a `keras.Sequential` model it also walks the layers one by one and logs, per layer l,
    the forward signal and the backpropagated one (the notes' 1.3^L example):

    ```python
    activations/norm/<layer>        = ||a_l||             # a_l = layer_l(a_{l-1}), a_0 = x
    output_gradients/norm/<layer>   = ||d loss / d a_l||
    ```

    In a deep linear network with `W_l = c * I`, `a_l = c**l * x` grows (c > 1) or shrinks
    (c < 1) by c per layer toward the output, `d loss / d a_l = c**(L - l) * d loss / d a_L` by
    c per layer toward the input, and the two cancel in the weight gradients:
    `d loss / d W_l = d loss / d a_l @ a_{l-1}^T = c**(L - 1) * d loss / d a_L @ x^T` is the
    same for every layer. The weight gradients explode or vanish together as the depth L
    grows; layer by layer, it shows in the activations and the backpropagated gradients.

    Alerts: at each logged step, a variable whose gradient norm is below
    `vanishing_threshold` or above `exploding_threshold` (or not finite) is flagged. The first
    flag of each (variable, kind) gives a Python `RuntimeWarning` and a TensorBoard text entry
    `gradients/alerts`; every logged step writes the counts `gradients/vanishing_count` and
    `gradients/exploding_count`.

    Every `histogram_every_n_steps` steps it also writes the histograms
    `gradients/histogram/<v>`, `weights/histogram/<v>` and `updates/histogram/<v>`.

    The latest values, as Python floats, are in `self.latest`:
    `{"step", "global_gradient_norm", "gradient_norms", "weight_norms", "update_norms",
    "update_ratios", "activation_norms", "output_gradient_norms", "flags"}` (per-name dicts;
    `flags` maps a variable to "vanishing" or "exploding"), and every first flag in
    `self.alerts` (a list of dicts).

    Cost per logged step: one forward and backward pass on the probe batch (about one training
    step on a batch of the same size), a copy of the weights and one summary write: ~2.5 ms in
    all for a 64-128-128-10 MLP and a 32-example probe on 2 CPU cores; histograms add ~1 ms
    per 16k values. The two measuring functions are traced once per model and probe shape
    (~0.1-0.2 s) and kept for its later fits (callbacks/gradient_probe.py). At the defaults this is
    ~1-2% of that MLP's training time (benchmarks/callback_cost.py).

    Assumes one batch is one optimizer step. With `steps_per_execution=k` Keras calls the
    hooks once per group of k steps: a group that holds a logging step is measured at its first
    step (the logged step), and its update covers the whole group.

    Args:
        probe_data: `(x, y)` or `(x, y, sample_weight)`, a fixed batch (a training batch's
            size is a good choice).
        log_dir: The run directory shared with `keras.callbacks.TensorBoard`, or None to keep
            only `self.latest`.
        log_every_n_steps: int > 0. Defaults to `200`.
        histogram_every_n_steps: int > 0, or None for no histograms. Defaults to `2000`.
        vanishing_threshold: float > 0 or None. Defaults to `1e-7`.
        exploding_threshold: float > 0 or None. Defaults to `1e3`.
    """

    def __init__(
        self,
        probe_data,
        log_dir=None,
        log_every_n_steps=200,
        histogram_every_n_steps=2000,
        vanishing_threshold=1e-7,
        exploding_threshold=1e3,
    ):
        super().__init__()
        if not isinstance(probe_data, (tuple, list)) or len(probe_data) not in (2, 3):
            raise ValueError(
                "Argument `probe_data` must be a tuple `(x, y)` or `(x, y, sample_weight)`. "
                f"Received: probe_data of type {type(probe_data).__name__}"
            )
        self.probe_data = tuple(probe_data) + (None,) * (3 - len(probe_data))
        self.log_every_n_steps = check_positive_integer("log_every_n_steps", log_every_n_steps)
        self.histogram_every_n_steps = None
        if histogram_every_n_steps is not None:
            self.histogram_every_n_steps = check_positive_integer("histogram_every_n_steps", histogram_every_n_steps)
        self.vanishing_threshold = None
        if vanishing_threshold is not None:
            self.vanishing_threshold = check_positive("vanishing_threshold", vanishing_threshold)
        self.exploding_threshold = None
        if exploding_threshold is not None:
            self.exploding_threshold = check_positive("exploding_threshold", exploding_threshold)
        if (
            self.vanishing_threshold is not None
            and self.exploding_threshold is not None
            and not self.vanishing_threshold < self.exploding_threshold
        ):
            raise ValueError(
                "Argument `vanishing_threshold` must be < `exploding_threshold`. Received: "
                f"vanishing_threshold={vanishing_threshold!r}, "
                f"exploding_threshold={exploding_threshold!r}"
            )
        self._writer = SummaryWriter(log_dir)
        self.latest = None
        self.alerts = []
        self._alerted = set()
        self._steps = StepCounter()
        self._pending = None

    # Set-up: names, and the backend's compiled measurement (callbacks/gradient_probe.py).

    def on_train_begin(self, logs=None):
        self._writer.open()
        self._steps.start(self)
        model = self.model
        self._variables = list(model.trainable_variables)
        self._names = [variable_name(model, v) for v in self._variables]
        self._layers = list(model.layers) if isinstance(model, keras.Sequential) else []
        self._layer_names = [layer.name for layer in self._layers]
        self._probe = make_probe(model, self._variables, self._layers, self.probe_data)

    # Per step.

    def on_epoch_begin(self, epoch, logs=None):
        self._steps.begin_epoch()

    def _due(self, first, every):
        """Whether the group of steps that begins at `first` holds a logging step."""
        last = self._steps.last_of_group(first)
        steps_per_epoch = (self.params or {}).get("steps")
        if steps_per_epoch:  # an epoch's last group can be shorter
            last = min(last, self._steps.before_epoch + steps_per_epoch)
        return every is not None and bool(logging_steps(first, last, every))

    def on_train_batch_begin(self, batch, logs=None):
        step = self._steps.first(batch)
        histograms = self._writer.enabled and self._due(step, self.histogram_every_n_steps)
        if histograms or self._due(step, self.log_every_n_steps):
            self._pending = (step, histograms, *self._probe.before(self.model))

    def on_train_batch_end(self, batch, logs=None):
        self._steps.last(self, batch)
        if self._pending is None:
            return
        step, histograms_due, gradients, weights, norms = self._pending
        self._pending = None
        updates, packed = self._probe.after(self.model, gradients, weights, norms)
        self.latest = latest = {"step": step, **self._unpack(packed)}
        latest["flags"] = self._flag(step, latest["gradient_norms"])
        if not self._writer.enabled:
            return
        scalars = {"gradients/global_norm": latest["global_gradient_norm"]}
        for group, key in (
            ("gradients/norm", "gradient_norms"),
            ("weights/norm", "weight_norms"),
            ("updates/norm", "update_norms"),
            ("updates/ratio", "update_ratios"),
            ("activations/norm", "activation_norms"),
            ("output_gradients/norm", "output_gradient_norms"),
        ):
            scalars.update({f"{group}/{name}": value for name, value in latest[key].items()})
        kinds = list(latest["flags"].values())
        scalars["gradients/vanishing_count"] = kinds.count("vanishing")
        scalars["gradients/exploding_count"] = kinds.count("exploding")
        histograms = {}
        if histograms_due:
            for group, tensors in (
                ("gradients", gradients),
                ("weights", weights),
                ("updates", updates),
            ):
                histograms.update({f"{group}/histogram/{name}": t for name, t in zip(self._names, tensors)})
        self._writer.write(step, scalars, histograms)

    def _unpack(self, values):
        """The packed vector as `{section: {name: float}}` (the global norm as a float)."""
        values = [float(v) for v in values]
        unpacked = {"global_gradient_norm": values[0]}
        start = 1
        for key in PACKED[1:]:
            names = self._layer_names if key in ("activation_norms", "output_gradient_norms") else self._names
            unpacked[key] = dict(zip(names, values[start : start + len(names)]))
            start += len(names)
        return unpacked

    def _flag(self, step, gradient_norms):
        flags = {}
        for name, norm in gradient_norms.items():
            if not math.isfinite(norm) or (self.exploding_threshold is not None and norm > self.exploding_threshold):
                kind, threshold = "exploding", self.exploding_threshold
            elif self.vanishing_threshold is not None and norm < self.vanishing_threshold:
                kind, threshold = "vanishing", self.vanishing_threshold
            else:
                continue
            flags[name] = kind
            if (name, kind) not in self._alerted:
                self._alerted.add((name, kind))
                self._alert(step, name, kind, norm, threshold)
        return flags

    def _alert(self, step, name, kind, norm, threshold):
        relation = "<" if kind == "vanishing" else ">"
        message = (
            f"{kind.capitalize()} gradient at step {step}: variable '{name}' has gradient "
            f"norm {norm:.3g} {relation} {kind}_threshold={threshold!r} (on the probe batch)."
        )
        self.alerts.append(
            {"step": step, "variable": name, "kind": kind, "gradient_norm": norm, "threshold": threshold}
        )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        self._writer.text(step, "gradients/alerts", message)

    def on_epoch_end(self, epoch, logs=None):
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._pending = None
        self._writer.close()
