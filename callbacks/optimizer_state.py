"""The adaptive optimizers' effective per-parameter learning rates, and momentum buffer norms."""

import warnings

import keras
import numpy as np
import tensorflow as tf

import optimizers
from callbacks._summary import StepCounter, SummaryWriter, logging_steps
from callbacks.gradient_statistics import variable_name
from callbacks.learning_rate_logger import applied_learning_rate, base_optimizer
from optimizers.validation import check_fraction, check_positive_integer


def _denominator(second_moment, epsilon, epsilon_inside_sqrt):
    if epsilon_inside_sqrt:
        return np.sqrt(second_moment + epsilon)
    return np.sqrt(second_moment) + epsilon


def effective_learning_rates(optimizer, learning_rate, step, read=np.asarray):
    """Per variable, the array of per-parameter learning rates that step `step` applied.

    Read from the optimizer's slots after that step, with `learning_rate` the rate it used:

    ```python
    # Adagrad:  step = eff * gradient;  RMSprop: increment = eff * gradient
    eff = learning_rate / sqrt(accumulator + epsilon)        # epsilon_inside_sqrt (Keras)
    eff = learning_rate / (sqrt(accumulator) + epsilon)      # the notes' placement
    # RMSprop: `velocity` (centered: velocity - average_gradient**2) in place of `accumulator`
    # Adam: step = eff * m_hat, m_hat = m / (1 - beta_1**t), the bias-corrected momentum
    eff = learning_rate * sqrt(1 - beta_2**t) / (sqrt(v) + epsilon)   # Keras ("epsilon hat")
    eff = learning_rate / sqrt(v / (1 - beta_2**t) + epsilon)         # epsilon_inside_sqrt
    eff = learning_rate / (sqrt(v) + epsilon)    # bias_correction=False: step = eff * m
    ```

    `v` is AMSGrad's running maximum when `amsgrad=True`. Conventions come from the
    optimizer's own `epsilon_inside_sqrt` and `bias_correction` attributes (this project's
    optimizers) or Keras's built-ins' (Adagrad, RMSprop: inside; Adam, AdamW: epsilon hat).
    Returns None for optimizers without a per-parameter learning rate (SGD and others).
    `read` turns a slot variable into a numpy array.
    """
    optimizer = base_optimizer(optimizer)
    epsilon = getattr(optimizer, "epsilon", None)
    if isinstance(optimizer, (optimizers.Adagrad, keras.optimizers.Adagrad)):
        inside = getattr(optimizer, "epsilon_inside_sqrt", True)
        return [learning_rate / _denominator(np.float64(read(a)), epsilon, inside) for a in optimizer._accumulators]
    if isinstance(optimizer, (optimizers.RMSprop, keras.optimizers.RMSprop)):
        inside = getattr(optimizer, "epsilon_inside_sqrt", True)
        rates = []
        for index, velocity in enumerate(optimizer._velocities):
            second_moment = np.float64(read(velocity))
            if optimizer.centered:
                average = np.float64(read(optimizer._average_gradients[index]))
                second_moment = second_moment - average**2
                if isinstance(optimizer, optimizers.RMSprop):  # ours clamps rounding below 0
                    second_moment = np.maximum(second_moment, 0.0)
            rates.append(learning_rate / _denominator(second_moment, epsilon, inside))
        return rates
    if isinstance(optimizer, (optimizers.Adam, keras.optimizers.Adam)):
        inside = getattr(optimizer, "epsilon_inside_sqrt", False)
        bias_correction = getattr(optimizer, "bias_correction", True)
        slots = optimizer._velocity_hats if optimizer.amsgrad else optimizer._velocities
        correction = 1.0 - optimizer.beta_2**step
        rates = []
        for v in slots:
            v = np.float64(read(v))
            if not bias_correction:
                rates.append(learning_rate / _denominator(v, epsilon, inside))
            elif not inside:
                rates.append(learning_rate * np.sqrt(correction) / (np.sqrt(v) + epsilon))
            else:
                rates.append(learning_rate / np.sqrt(v / correction + epsilon))
        return rates
    return None


def _l2_norm(array):
    # Not np.linalg.norm: its BLAS dot can take milliseconds on a busy 2-core machine.
    return float(np.sqrt(np.sum(np.square(np.float64(array)))))


def momentum_buffers(optimizer):
    """SGD's velocity, RMSprop's momentum buffer, Adam's first moment `m`; [] if none."""
    optimizer = base_optimizer(optimizer)
    buffers = getattr(optimizer, "momentums", None)  # SGD (ours and Keras's)
    if buffers is None:
        buffers = getattr(optimizer, "_momentums", None)  # RMSprop, Adam
    return list(buffers or [])


class OptimizerStateStatistics(keras.callbacks.Callback):
    """Distributions of the effective per-parameter learning rate, and momentum buffer norms.

    Every `log_every_n_steps` steps, after step t (1-based optimizer step), with the rate
    `learning_rate` that step applied (see `effective_learning_rates` for each optimizer's
    formula):

    ```python
    effective_learning_rate/p<q>          = quantile(all parameters' eff, q)   # q in quantiles
    effective_learning_rate/median/<v>    = median(eff[v])
    momentum/norm/<v>                     = ||momentum buffer of v||
    optimizer/adam_bias_correction_m      = 1 / (1 - beta_1**t)     # Adam, bias-corrected
    optimizer/adam_bias_correction_v      = 1 / (1 - beta_2**t)
    ```

    and every `histogram_every_n_steps` steps the histograms
    `effective_learning_rate/log10/<v>` of `log10(eff[v])` (rates spread over decades).
    AdaGrad's stalling shows as quantiles that only fall; Adam's bias correction as the
    correction factors falling to 1 over the first ~1/(1 - beta_2) steps.

    Works with this project's optimizers and Keras's built-in SGD, Adagrad, RMSprop, Adam and
    AdamW; for other optimizers it logs momentum norms where it finds them and warns once.
    The latest values are in `self.latest`: `{"step", "learning_rate", "quantiles",
    "median_by_variable", "momentum_norms"}`.

    Cost per logged step: one compiled read of all optimizer variables, a few float64 numpy
    passes over all parameters and one summary write: ~3 ms for 30k parameters on 2 CPU
    cores, ~1-2% of a digits MLP's training time at the defaults
    (benchmarks/callback_cost.py).

    Args:
        log_dir: The run directory shared with `keras.callbacks.TensorBoard`, or None.
        log_every_n_steps: int > 0. Defaults to `200`.
        histogram_every_n_steps: int > 0, or None for no histograms. Defaults to `2000`.
        quantiles: non-empty sequence of numbers in [0, 1]. Defaults to `(0.05, 0.5, 0.95)`.
    """

    def __init__(
        self,
        log_dir=None,
        log_every_n_steps=200,
        histogram_every_n_steps=2000,
        quantiles=(0.05, 0.5, 0.95),
    ):
        super().__init__()
        self.log_every_n_steps = check_positive_integer("log_every_n_steps", log_every_n_steps)
        self.histogram_every_n_steps = None
        if histogram_every_n_steps is not None:
            self.histogram_every_n_steps = check_positive_integer("histogram_every_n_steps", histogram_every_n_steps)
        if not isinstance(quantiles, (tuple, list)) or not quantiles:
            raise ValueError(
                "Argument `quantiles` must be a non-empty sequence of numbers in [0, 1]. "
                f"Received: quantiles={quantiles!r}"
            )
        self.quantiles = tuple(check_fraction("quantiles", q) for q in quantiles)
        self._writer = SummaryWriter(log_dir)
        self.latest = None
        self._steps = StepCounter()
        self._warned = False

    def on_train_begin(self, logs=None):
        self._writer.open()
        self._steps.start(self)
        self._read_slots = None

    def on_epoch_begin(self, epoch, logs=None):
        self._steps.begin_epoch()

    def on_train_batch_begin(self, batch, logs=None):
        self._first_step = self._steps.first(batch)

    def _slot_reader(self):
        """Reads every optimizer variable in one compiled call (one eager read costs
        0.02-0.3 ms each); returns `read(variable) -> numpy array`."""
        variables = base_optimizer(self.model.optimizer).variables
        if self._read_slots is None:
            self._read_slots = tf.function(lambda: [tf.identity(v) for v in variables], autograph=False)
        values = {id(v): t.numpy() for v, t in zip(variables, self._read_slots())}
        return lambda variable: values[id(variable)]

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution=k this runs once per k steps: log the group's last step if
        # the group holds a logging step.
        step = self._steps.last(self, batch)
        histograms_now = self.histogram_every_n_steps is not None and bool(
            logging_steps(self._first_step, step, self.histogram_every_n_steps)
        )
        if not (logging_steps(self._first_step, step, self.log_every_n_steps) or histograms_now):
            return
        optimizer = self.model.optimizer
        names = [variable_name(self.model, v) for v in self.model.trainable_variables]
        learning_rate = applied_learning_rate(optimizer, step)
        read = self._slot_reader()
        rates = effective_learning_rates(optimizer, learning_rate, step, read)
        buffers = [read(b) for b in momentum_buffers(optimizer)]
        # SGD's rate is the same for every parameter, nothing to warn about; others are unknown.
        is_sgd = isinstance(base_optimizer(optimizer), (keras.optimizers.SGD, optimizers.SGD))
        if rates is None and not self._warned and not is_sgd:
            self._warned = True
            warnings.warn(
                f"OptimizerStateStatistics: no effective learning rate for "
                f"{type(base_optimizer(optimizer)).__name__}; logging momentum norms only.",
                RuntimeWarning,
                stacklevel=2,
            )
        self.latest = latest = {
            "step": step,
            "learning_rate": learning_rate,
            "quantiles": {},
            "median_by_variable": {},
            "momentum_norms": {name: _l2_norm(b) for name, b in zip(names, buffers)},
        }
        scalars = {f"momentum/norm/{name}": n for name, n in latest["momentum_norms"].items()}
        histograms = {}
        if rates is not None:
            every = np.concatenate([r.reshape(-1) for r in rates])
            latest["quantiles"] = dict(zip(self.quantiles, np.quantile(every, self.quantiles)))
            latest["median_by_variable"] = {name: float(np.median(r)) for name, r in zip(names, rates)}
            for q, value in latest["quantiles"].items():
                scalars[f"effective_learning_rate/p{q * 100:g}"] = value
            for name, value in latest["median_by_variable"].items():
                scalars[f"effective_learning_rate/median/{name}"] = value
            if histograms_now:
                with np.errstate(divide="ignore"):
                    histograms = {
                        f"effective_learning_rate/log10/{name}": np.log10(r).astype(np.float32)
                        for name, r in zip(names, rates)
                    }
        base = base_optimizer(optimizer)
        if isinstance(base, (optimizers.Adam, keras.optimizers.Adam)) and getattr(base, "bias_correction", True):
            scalars["optimizer/adam_bias_correction_m"] = 1.0 / (1.0 - base.beta_1**step)
            scalars["optimizer/adam_bias_correction_v"] = 1.0 / (1.0 - base.beta_2**step)
        self._writer.write(step, scalars, histograms)

    def on_epoch_end(self, epoch, logs=None):
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._writer.close()
