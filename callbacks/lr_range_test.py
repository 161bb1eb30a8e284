"""Learning-rate range test (Smith's "LR range test", fastai's `lr_find`) for any compiled model.

```python
result = lr_range_test(model, x_train, y_train, batch_size=64, plot_path="lr_find.png")
model.optimizer.learning_rate = result.suggested_learning_rate
```

The model's weights and its optimizer's state are put back afterwards, so the test can run
right before training.
"""

import dataclasses
import math
import os

import keras
import numpy as np

from optimizers.introspection import base_optimizer, learning_rate_object, state_variables
from optimizers.validation import (
    check_positive,
    check_positive_integer,
    check_unit_interval,
)

# The first averages hold few losses: their "slope" is mostly noise (fastai v1's skip_start).
SKIP_START = 10


@dataclasses.dataclass(frozen=True)
class LRRangeTestResult:
    """The range test's curve and its reading.

    Attributes:
        learning_rates: the rate used at each step (exponentially increasing).
        losses: the training loss of each step's batch, computed before that step's update.
        smoothed_losses: the bias-corrected exponential moving average of `losses`.
        suggested_learning_rate: `min_loss_learning_rate / 10`, fastai's "minimum / 10" rule:
            an order of magnitude below where the loss stops improving.
        min_loss_learning_rate: where the smoothed loss is lowest.
        steepest_learning_rate: where the smoothed loss falls fastest against `log(lr)`,
            between step `SKIP_START` and the minimum (fastai's "steep" rule), or `None` when
            that stretch has fewer than 3 points. It is the slope of a noisy curve, so it
            jumps with batch-to-batch noise; hence it is not the suggestion.
        stopped_early: whether the loss blew up before the last step.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggested_learning_rate: float
    min_loss_learning_rate: float
    steepest_learning_rate: float | None
    stopped_early: bool


def lr_range_test(
    model,
    x,
    y=None,
    *,
    batch_size=32,
    min_lr=1e-7,
    max_lr=10.0,
    num_steps=200,
    smoothing=0.98,
    divergence_factor=4.0,
    plot_path=None,
):
    """Trains with an exponentially rising learning rate and records the loss, then undoes it.

    ```python
    for i in range(num_steps):
        lr = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))
        loss = train_on_batch(next_batch, lr)           # the batch's loss before the update
        average = smoothing * average + (1 - smoothing) * loss           # average starts at 0
        smoothed = average / (1 - smoothing ** (i + 1))                  # bias correction
        if not isfinite(smoothed) or smoothed > divergence_factor * min(smoothed so far):
            break                                        # the last point is kept on the curve
    ```

    Afterwards every model variable (weights, normalization statistics, seed state) and every
    optimizer variable (slots, `iterations`, a number learning rate) gets its value back, the
    learning-rate object itself is put back, and so is the model's compiled train function.
    The optimizer is built first if it was not, so "back" means freshly built.

    A scheduled learning rate is replaced by the test's rate for the duration of the test (the
    train function is retraced once), then restored. (On JAX, whose compiled step reads only
    the optimizer's own variables, an unwrapped optimizer with a schedule trains the test as
    a copy with a number rate and the same slots.) Read the suggestion as the schedule's peak:
    its `initial_learning_rate`, or the target of its warm-up.

    Losses are assumed non-negative (as Keras's losses are), for the divergence rule.

    Args:
        model: a compiled Keras model.
        x: inputs as arrays (or a list/dict of arrays), sliced into batches of `batch_size`;
            or, with `y=None`, an iterable of batches such as a `tf.data.Dataset` yielding
            `(x, y)` or `(x, y, sample_weight)`. Batches are reused in order when there are
            fewer than `num_steps`.
        y: targets, for array inputs.
        batch_size: int > 0, for array inputs. Defaults to `32`.
        min_lr: float > 0, the first rate. Defaults to `1e-7`.
        max_lr: float > `min_lr`, the last rate. Defaults to `10.0`.
        num_steps: int >= 2, the number of steps if the loss never blows up. Defaults to `200`.
        smoothing: float in [0, 1), the EMA coefficient; 0 means no smoothing.
            Defaults to `0.98`.
        divergence_factor: float > 1, stop once the smoothed loss exceeds this many times its
            minimum. Defaults to `4.0`.
        plot_path: path to save a plot of the curve to (any format matplotlib knows from the
            extension), or `None`. Defaults to `None`.

    Returns:
        An `LRRangeTestResult`.
    """
    min_lr = check_positive("min_lr", min_lr)
    max_lr = check_positive("max_lr", max_lr)
    if not max_lr > min_lr:
        raise ValueError(
            f"Argument `max_lr` must be > min_lr={min_lr!r}. Received: max_lr={max_lr!r}"
        )
    num_steps = check_positive_integer("num_steps", num_steps)
    if num_steps < 2:
        raise ValueError(f"Argument `num_steps` must be >= 2. Received: num_steps={num_steps!r}")
    batch_size = check_positive_integer("batch_size", batch_size)
    smoothing = check_unit_interval("smoothing", smoothing)
    divergence_factor = check_positive("divergence_factor", divergence_factor)
    if not divergence_factor > 1.0:
        raise ValueError(
            "Argument `divergence_factor` must be > 1. "
            f"Received: divergence_factor={divergence_factor!r}"
        )
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError(
            "Argument `model` must be a compiled Keras model (call `model.compile` first). "
            f"Received: model={model!r}"
        )
    if plot_path is not None and not isinstance(plot_path, (str, os.PathLike)):
        raise ValueError(
            f"Argument `plot_path` must be a file path or None. Received: plot_path={plot_path!r}"
        )

    batches = _batches(x, y, batch_size)
    first_batch = next(batches)
    optimizer = model.optimizer
    if not model.built:
        model(first_batch[0])
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    # The inner optimizer of a LossScaleOptimizer holds the rate; `variables` covers both.
    rate_holder = base_optimizer(optimizer)

    model_state = [keras.ops.convert_to_numpy(v) for v in model.variables]
    optimizer_state = [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
    original_rate = learning_rate_object(rate_holder)  # The object: `.learning_rate` is its value.
    original_train_function = model.train_function
    if isinstance(original_rate, keras.Variable):
        rate = original_rate
    elif keras.backend.backend() == "jax" and rate_holder is optimizer:
        # JAX's compiled step sees only the variables the optimizer tracks: a stand-in with a
        # number rate (a tracked variable), the same slots and step count trains instead.
        model.optimizer = _stand_in_with_a_number_rate(optimizer, model, min_lr)
        rate = learning_rate_object(model.optimizer)
    elif keras.backend.backend() == "jax":
        raise ValueError(
            "lr_range_test on JAX needs a number learning rate for a wrapped optimizer (its "
            "compiled step would not see a replaced schedule). Received: "
            f"optimizer={type(optimizer).__name__} around learning_rate={original_rate!r}"
        )
    else:
        rate = keras.Variable(min_lr, dtype="float32", trainable=False, name="lr_range_test")
        rate_holder.learning_rate = lambda: rate  # Keras calls a callable rate with no arguments.
        model.make_train_function(force=True)

    learning_rates = min_lr * (max_lr / min_lr) ** (np.arange(num_steps) / (num_steps - 1))
    losses, smoothed_losses = [], []
    average, best, stopped_early = 0.0, math.inf, False
    try:
        batch = first_batch
        for i, learning_rate in enumerate(learning_rates):
            if i > 0:
                batch = next(batches)
            rate.assign(learning_rate)
            logs = model.train_on_batch(*batch, return_dict=True)
            loss = float(logs["loss"])
            average = smoothing * average + (1.0 - smoothing) * loss
            smoothed = average / (1.0 - smoothing ** (i + 1))
            losses.append(loss)
            smoothed_losses.append(smoothed)
            best = min(best, smoothed)
            if not math.isfinite(smoothed) or smoothed > divergence_factor * best:
                stopped_early = i < num_steps - 1
                break
    finally:
        for variable, value in zip(model.variables, model_state):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, optimizer_state):
            variable.assign(value)
        if model.optimizer is not optimizer:
            model.optimizer = optimizer
        elif rate is not original_rate:
            rate_holder.learning_rate = original_rate
        model.train_function = original_train_function
        model.reset_metrics()

    learning_rates = learning_rates[: len(losses)]
    result = _read_curve(learning_rates, np.array(losses), np.array(smoothed_losses), stopped_early)
    if plot_path is not None:
        plot_lr_range_test(result, plot_path, divergence_factor)
    return result


def _stand_in_with_a_number_rate(optimizer, model, learning_rate):
    config = dict(optimizer.get_config(), learning_rate=learning_rate)
    stand_in = type(optimizer).from_config(config)
    stand_in.build(model.trainable_variables)
    for target, source in zip(state_variables(stand_in), state_variables(optimizer)):
        target.assign(source)
    stand_in.iterations.assign(optimizer.iterations)
    model.make_train_function(force=True)
    return stand_in


def _read_curve(learning_rates, losses, smoothed_losses, stopped_early):
    finite = np.isfinite(smoothed_losses)
    valley = int(np.argmin(np.where(finite, smoothed_losses, np.inf)))
    min_loss_learning_rate = float(learning_rates[valley])
    descent = slice(SKIP_START, valley + 1)
    steepest = None
    if valley - SKIP_START >= 2:
        slope = np.gradient(smoothed_losses[descent], np.log(learning_rates[descent]))
        steepest = float(learning_rates[descent][int(np.argmin(slope))])
    return LRRangeTestResult(
        learning_rates=learning_rates,
        losses=losses,
        smoothed_losses=smoothed_losses,
        suggested_learning_rate=min_loss_learning_rate / 10.0,
        min_loss_learning_rate=min_loss_learning_rate,
        steepest_learning_rate=steepest,
        stopped_early=stopped_early,
    )


def plot_lr_range_test(result, path, divergence_factor=4.0):
    """Saves loss against learning rate (log scale), with the suggested rate marked."""
    from matplotlib.figure import Figure  # No pyplot: no global state, no display needed.

    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    axes.plot(result.learning_rates, result.losses, alpha=0.3, label="loss")
    axes.plot(result.learning_rates, result.smoothed_losses, label="smoothed loss")
    axes.axvline(
        result.suggested_learning_rate,
        color="tab:red",
        linestyle="--",
        label=f"suggested {result.suggested_learning_rate:.2g}",
    )
    finite = result.smoothed_losses[np.isfinite(result.smoothed_losses)]
    if finite.size:  # Keep the blow-up from flattening the interesting part.
        top = max(finite[0], divergence_factor * finite.min())
        finite_losses = result.losses[np.isfinite(result.losses)]
        bottom = min(finite_losses.min(initial=np.inf), finite.min())
        margin = 0.05 * (top - bottom)
        axes.set_ylim(bottom - margin, top + margin)
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss")
    axes.set_title("Learning-rate range test")
    axes.legend()
    figure.savefig(path)


def _batches(x, y, batch_size):
    """Yields `(x, y, sample_weight)` batches forever, reusing the data in order."""
    if y is None and not hasattr(x, "shape"):  # An iterable of batches, e.g. a tf.data.Dataset.
        count = 0
        while True:
            count_before = count
            for batch in x:
                count += 1
                yield keras.utils.unpack_x_y_sample_weight(batch)
            if count == count_before:  # Empty, or a one-shot generator used up.
                raise ValueError(
                    f"Argument `x` ran out of batches after {count}: give a re-iterable one "
                    f"(a list, a tf.data.Dataset) or arrays. Received: x={x!r}"
                )
    size = len(keras.tree.flatten(x)[0])
    if size == 0:
        raise ValueError(f"Argument `x` must hold at least one sample. Received: x={x!r}")
    while True:
        for start in range(0, size, batch_size):
            window = slice(start, start + batch_size)
            yield (
                keras.tree.map_structure(lambda a, window=window: a[window], x),
                None if y is None else keras.tree.map_structure(lambda a, window=window: a[window], y),
                None,
            )
