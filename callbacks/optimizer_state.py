"""The adaptive optimizers' effective per-parameter learning rates, and momentum buffer norms."""

import warnings

import keras
import numpy as np

from callbacks.summary_writers import StepCounter, SummaryWriter, logging_steps, variable_name
from callbacks.variable_reads import variable_reader
from optimizers.introspection import (
    applied_learning_rate,
    base_optimizer,
    bias_correction_factors,
    effective_learning_rates,
    has_per_parameter_learning_rate,
    momentum_buffers,
)
from optimizers.validation import check_fraction, check_positive_integer


def _l2_norm(array):
    # Not np.linalg.norm: its BLAS dot can take milliseconds on a busy 2-core machine.
    return float(np.sqrt(np.sum(np.square(np.float64(array)))))


class OptimizerStateStatistics(keras.callbacks.Callback):
    """Distributions of the effective per-parameter learning rate, and momentum buffer norms.

    Every `log_every_n_steps` steps, after step t (1-based optimizer step), with the rate
    `learning_rate` that step applied (see `optimizers.introspection.effective_learning_rates`
    for each optimizer's formula):

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
        """Reads every optimizer variable at once; returns `read(variable) -> numpy array`."""
        if self._read_slots is None:
            optimizer = base_optimizer(self.model.optimizer)
            # Compiled once per optimizer: a model reused across fits reads with the same graph.
            self._read_slots = variable_reader(optimizer.variables, owner=optimizer)
        values = self._read_slots()
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
        if rates is None and not self._warned and has_per_parameter_learning_rate(optimizer) is None:
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
        corrections = bias_correction_factors(optimizer, step)
        if corrections is not None:
            scalars["optimizer/adam_bias_correction_m"], scalars["optimizer/adam_bias_correction_v"] = corrections
        self._writer.write(step, scalars, histograms)

    def on_epoch_end(self, epoch, logs=None):
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._writer.close()
