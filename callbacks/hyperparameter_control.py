"""Change a running `fit`'s hyperparameters: by editing a JSON file, or on a loss plateau.

The notes: "useful to have a model that can tune parameters during runtime in case weird
behavior is being observed, can still save the model by changing a parameter".

Both callbacks change the learning rate through one mechanism, `make_learning_rate_adjustable`:
- a number learning rate lives in a Keras variable: a change assigns it (`learning_rate`);
- a scheduled learning rate is wrapped once in `optimizers.schedules.ScaledSchedule`, and a
  change assigns its multiplier (`learning_rate_multiplier`): warm-up and decay go on, scaled.
  Keras's own `ReduceLROnPlateau` and `LearningRateScheduler` raise on such optimizers.
Neither needs a retrace: compiled train functions read variables at every step. Momentum, betas
and rho are Python floats baked into the traced train function, so changing one retraces it
(`model.make_train_function(force=True)`; `fit` calls `model.train_function` afresh each batch).
"""

import json
import logging
import math
import numbers
import os
import time
import warnings

import keras
import numpy as np
from keras import ops

from callbacks.learning_rate_logger import base_optimizer
from optimizers.validation import (
    check_choice,
    check_non_negative,
    check_non_negative_integer,
    check_positive,
    check_positive_integer,
    check_string,
    check_unit_interval,
)
from optimizers.schedules import ScaledSchedule

CONTROL_FILENAME = "hyperparameters.json"
CHANGES_FILENAME = "hyperparameter_changes.jsonl"
LEARNING_RATE = "learning_rate"
MULTIPLIER = "learning_rate_multiplier"
# Read as Python floats while the train function is traced: changing one needs a retrace.
TRACED_HYPERPARAMETERS = ("momentum", "beta_1", "beta_2", "rho")
FLOAT32_RELATIVE_PRECISION = 1e-6

logger = logging.getLogger(__name__)


def make_learning_rate_adjustable(model):
    """Makes `model.optimizer`'s learning rate changeable mid-`fit`; returns the control's name.

    Returns `"learning_rate"` for a number learning rate (a Keras variable), or
    `"learning_rate_multiplier"` for a schedule, which is wrapped in `ScaledSchedule` on the first
    call (then the train function is retraced once, as the old trace holds the bare schedule).
    Returns `None` for a plain callable, which cannot be changed from outside.
    """
    optimizer = base_optimizer(model.optimizer)
    rate = optimizer._learning_rate  # The object itself: `.learning_rate` gives its value.
    if isinstance(rate, ScaledSchedule):
        return MULTIPLIER
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        optimizer.learning_rate = ScaledSchedule(rate)
        model.make_train_function(force=True)
        return MULTIPLIER
    if isinstance(rate, keras.Variable):
        return LEARNING_RATE
    return None


def read_learning_rate_control(optimizer, control):
    if control == MULTIPLIER:
        return _as_float(optimizer._learning_rate.multiplier)
    return _as_float(optimizer.learning_rate)


def write_learning_rate_control(optimizer, control, value):
    if control == MULTIPLIER:
        optimizer._learning_rate.multiplier.assign(value)
    else:
        optimizer.learning_rate = value


def reduce_learning_rate(model, factor, min_lr=0.0):
    """Multiplies the current learning rate by `factor`, not going below `min_lr`.

    ```python
    if lr > min_lr:
        lr = max(lr * factor, min_lr)   # for a schedule: multiplier *= lr_new / lr_old
    ```

    `lr` is the rate the next update would use. For a schedule, `min_lr` bounds only this
    reduction: the schedule may still decay below it later. Returns `(old_lr, new_lr)`, or
    `None` when nothing was reduced.
    """
    optimizer = base_optimizer(model.optimizer)
    control = make_learning_rate_adjustable(model)
    if control is None:
        raise ValueError(
            "The learning rate is a plain callable and cannot be reduced at run time. "
            f"Received: learning_rate={optimizer._learning_rate!r}"
        )
    old_lr = _as_float(optimizer.learning_rate)
    # At the floor already, up to float32 rounding (multiplier * schedule is not exactly min_lr).
    if old_lr <= min_lr * (1 + FLOAT32_RELATIVE_PRECISION):
        return None
    new_lr = max(old_lr * factor, min_lr)
    if control == LEARNING_RATE:
        optimizer.learning_rate = new_lr
    else:
        multiplier = optimizer._learning_rate.multiplier
        multiplier.assign(_as_float(multiplier) * new_lr / old_lr)
    return old_lr, new_lr


def append_change_record(log_dir, record):
    """Appends one change (a dict) as a JSON line to `<log_dir>/hyperparameter_changes.jsonl`.

    A rejected NaN or infinite value is written as a string ("nan"): strict JSON has neither.
    """
    record = {
        key: str(value) if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in record.items()
    }
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, CHANGES_FILENAME), "a", encoding="utf-8") as file:
        file.write(json.dumps(record, allow_nan=False) + "\n")


def _as_float(value):
    return float(ops.convert_to_numpy(value))


def _shortest(value):
    """A float32 value as its shortest decimal (0.1, not 0.10000000149011612), for people."""
    return float(str(np.float32(value)))


class HyperparameterControl(keras.callbacks.Callback):
    """Applies a person's edits of `<log_dir>/hyperparameters.json` to the running `fit`.

    At the start of training the callback writes the file with the current values, e.g.
    `{"learning_rate": 0.01, "momentum": 0.9}`, or `{"learning_rate_multiplier": 1.0, ...}`
    when the learning rate is a schedule. Edit it and save; every `check_every_n_batches`
    batches and at each epoch end the callback stats the file and, if it changed, reads it:

    ```python
    for key, value in edited_file.items():
        if value != previous_file.get(key):        # only what the person changed
            if not valid(key, value): warn(key, value) # ignored; training goes on
            elif value != current(key): apply(key, value)  # from the next update on
    ```

    Controls: `learning_rate` (a number learning rate) or `learning_rate_multiplier` (a
    schedule: `lr = multiplier * schedule(step)`, so warm-up and decay go on, scaled); and
    `momentum`, `beta_1`, `beta_2`, `rho` where the optimizer has them (ours and Keras's).
    A learning rate must be a finite number >= 0, the others in [0, 1). Momentum cannot be
    switched on for an optimizer that started the run at 0: it has no momentum buffers.
    Changing the betas of Adam also changes its bias correction, `1 - beta ** t`, from then on.

    Every change, applied or rejected, is logged with its step (`optimizer.iterations`, the
    first update that uses the new value): printed (`verbose=1`), sent to Python `logging`,
    appended to `<log_dir>/hyperparameter_changes.jsonl`; rejections are also warnings. The
    file is a command channel, not a display: it is not rewritten when values change
    otherwise (e.g. by `ReduceLROnPlateau`).

    Args:
        log_dir: String, the run's log directory (created if missing).
        check_every_n_batches: int > 0, or `None` to check at epoch ends only. Checking is a
            `stat` of the file. With `steps_per_execution > 1` Keras reports a batch end once
            per execution, so that is what is counted. Defaults to `10`.
        verbose: 0 or 1, print each change. Defaults to `1`.
    """

    def __init__(self, log_dir, check_every_n_batches=10, verbose=1):
        super().__init__()
        self.log_dir = _check_path("log_dir", log_dir)
        if check_every_n_batches is not None:
            check_positive_integer("check_every_n_batches", check_every_n_batches)
        self.check_every_n_batches = check_every_n_batches
        self.verbose = check_choice("verbose", verbose, (0, 1))
        self.path = os.path.join(self.log_dir, CONTROL_FILENAME)
        self._file_signature = None
        self._requested = {}
        self._batches_seen = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        optimizer = base_optimizer(self.model.optimizer)
        self._learning_rate_control = make_learning_rate_adjustable(self.model)
        self._starting_values = {
            name: float(getattr(optimizer, name))
            for name in TRACED_HYPERPARAMETERS
            if _is_real_number(getattr(optimizer, name, None))
        }
        current = {}
        if self._learning_rate_control is not None:
            current[self._learning_rate_control] = _shortest(
                read_learning_rate_control(optimizer, self._learning_rate_control)
            )
        current.update({name: _shortest(v) for name, v in self._starting_values.items()})
        os.makedirs(self.log_dir, exist_ok=True)
        with open(self.path, "w", encoding="utf-8") as file:
            json.dump(current, file, indent=2)
            file.write("\n")
        self._requested = current
        self._file_signature = self._signature()
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._batches_seen += 1
        if self.check_every_n_batches and self._batches_seen % self.check_every_n_batches == 0:
            self.check_now()

    def on_epoch_end(self, epoch, logs=None):
        self.check_now()

    def check_now(self):
        """Reads the file if it changed since the last check and applies what was edited."""
        signature = self._signature()
        if signature is None or signature == self._file_signature:
            return
        self._file_signature = signature
        try:
            with open(self.path, encoding="utf-8") as file:
                requested = json.load(file)
            if not isinstance(requested, dict):
                raise ValueError(f"expected a JSON object, got {type(requested).__name__}")
        except (OSError, ValueError) as error:  # JSONDecodeError is a ValueError.
            self._record(None, None, None, f"cannot read {self.path}: {error}")
            return
        edited = {k: v for k, v in requested.items() if self._requested.get(k, None) != v}
        self._requested = requested
        needs_retrace = False
        for name, value in edited.items():
            try:
                value = self._validate(name, value)
            except ValueError as error:
                self._record(name, None, value, str(error))
                continue
            old_value = self._read(name)
            if value == old_value:  # E.g. a key that reappears unchanged: nothing to do.
                continue
            self._write(name, value)
            needs_retrace |= name in TRACED_HYPERPARAMETERS
            self._record(name, old_value, value, None)
        if needs_retrace:
            self.model.make_train_function(force=True)

    def _validate(self, name, value):
        control = self._learning_rate_control
        allowed = ([control] if control else []) + list(self._starting_values)
        if name == LEARNING_RATE and control == MULTIPLIER:
            raise ValueError(
                "The learning rate comes from a schedule: change "
                f"`{MULTIPLIER}` (lr = multiplier * schedule(step)) instead. "
                f"Received: {name}={value!r}"
            )
        if name not in allowed:
            raise ValueError(
                f"Unknown key `{name}` in {CONTROL_FILENAME}: allowed keys for this optimizer are "
                f"{', '.join(repr(a) for a in allowed)}. Received: {name}={value!r}"
            )
        if name in (LEARNING_RATE, MULTIPLIER):
            return check_non_negative(name, value)  # rejects NaN and inf too
        value = check_unit_interval(name, value)
        if name == "momentum" and value != 0 and self._starting_values[name] == 0:
            raise ValueError(
                "Argument `momentum` cannot be switched on: the optimizer started with "
                "momentum=0 and has no momentum buffers (start it with a momentum > 0 to be "
                f"able to change it). Received: momentum={value!r}"
            )
        return value

    def _read(self, name):
        if name in TRACED_HYPERPARAMETERS:
            return float(getattr(base_optimizer(self.model.optimizer), name))
        return _shortest(read_learning_rate_control(base_optimizer(self.model.optimizer), name))

    def _write(self, name, value):
        if name in TRACED_HYPERPARAMETERS:
            setattr(base_optimizer(self.model.optimizer), name, value)
        else:
            write_learning_rate_control(base_optimizer(self.model.optimizer), name, value)

    def _record(self, name, old_value, new_value, rejection):
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        record = {
            "time": time.time(),
            "epoch": self._epoch,
            "step": step,
            "name": name,
            "old": old_value,
            "new": new_value,
            "status": "rejected" if rejection else "applied",
            "source": CONTROL_FILENAME,
        }
        if rejection:
            record["reason"] = rejection
        append_change_record(self.log_dir, record)
        if rejection:
            message = f"Step {step}: ignored {CONTROL_FILENAME} edit ({rejection})"
            logger.warning(message)
            warnings.warn(message, stacklevel=2)
        else:
            message = f"Step {step}: {name} changed from {old_value} to {new_value}"
            logger.info(message)
            if self.verbose:
                print(message)

    def _signature(self):
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class ReduceLROnPlateau(keras.callbacks.Callback):
    """Keras's `ReduceLROnPlateau`, for any learning rate: numbers and schedules alike.

    At each epoch end:

    ```python
    in_cooldown = cooldown_left > 0
    if in_cooldown:
        cooldown_left -= 1
    if improved(current):                  # current < best - min_delta (mode="min")
        best, wait = current, 0
    elif not in_cooldown:
        wait += 1
        if wait >= patience and lr > min_lr:
            lr = max(lr * factor, min_lr)  # via reduce_learning_rate
            wait, cooldown_left = 0, cooldown
    ```

    With a schedule the callback lowers the multiplier of a `ScaledSchedule` (installed at the
    start of training), so `lr = multiplier * schedule(step)`: warm-up, decay and plateau
    reduction combine. `min_lr` stops this callback from lowering the current rate below it;
    the schedule itself may decay below it.

    Same arguments and defaults as Keras's, with two differences:
    - `cooldown=c` skips the `c` epochs after a reduction, as documented by Keras and done by
      PyTorch; Keras's code counts the first of them down before checking, so skips `c - 1`.
      With `cooldown=0` the two agree exactly.
    - `mode="auto"` is not supported: say `"min"` or `"max"`.

    Args:
        monitor: String, the `logs` key to watch. Defaults to `"val_loss"`.
        factor: float in (0, 1), `new_lr = lr * factor`. Defaults to `0.1`.
        patience: int >= 0, epochs without improvement before a reduction. Defaults to `10`.
        verbose: 0 or 1, print each reduction. Defaults to `0`.
        mode: `"min"` or `"max"`, the direction of improvement. Defaults to `"min"`.
        min_delta: float >= 0, the smallest change that counts as improvement.
            Defaults to `1e-4`.
        cooldown: int >= 0, epochs to wait after a reduction before counting again.
            Defaults to `0`.
        min_lr: float >= 0, see above. Defaults to `0.0`.
        log_dir: String or `None`: if given, each reduction is appended to
            `<log_dir>/hyperparameter_changes.jsonl`, beside `HyperparameterControl`'s.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="min",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        log_dir=None,
    ):
        super().__init__()
        self.monitor = check_string("monitor", monitor)
        self.factor = check_positive("factor", factor)
        if not self.factor < 1.0:
            raise ValueError(f"Argument `factor` must be in (0, 1). Received: factor={factor!r}")
        self.patience = check_non_negative_integer("patience", patience)
        self.verbose = check_choice("verbose", verbose, (0, 1))
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.min_delta = check_non_negative("min_delta", min_delta)
        self.cooldown = check_non_negative_integer("cooldown", cooldown)
        self.min_lr = check_non_negative("min_lr", min_lr)
        self.log_dir = None if log_dir is None else _check_path("log_dir", log_dir)
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()
        if make_learning_rate_adjustable(self.model) is None:
            raise ValueError(
                "ReduceLROnPlateau cannot change a learning rate given as a plain callable. "
                f"Received: learning_rate={base_optimizer(self.model.optimizer)._learning_rate!r}"
            )

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLROnPlateau monitors `{self.monitor}`, which is not in the logs. "
                f"Available: {', '.join(sorted(logs or {}))}.",
                stacklevel=2,
            )
            return
        current = float(current)
        in_cooldown = self.cooldown_counter > 0
        if in_cooldown:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current):
            self.best = current
            self.wait = 0
        elif not in_cooldown:
            self.wait += 1
            if self.wait >= self.patience:
                reduced = reduce_learning_rate(self.model, self.factor, self.min_lr)
                if reduced is not None:
                    self._report(epoch, *reduced)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def _is_improvement(self, current):
        if math.isnan(current):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def _report(self, epoch, old_lr, new_lr):
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        message = f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr:.6g}."
        logger.info(message)
        if self.verbose:
            print(message)
        if self.log_dir is not None:
            record = {
                "time": time.time(),
                "epoch": epoch,
                "step": step,
                "name": LEARNING_RATE,
                "old": old_lr,
                "new": new_lr,
                "status": "applied",
                "source": "ReduceLROnPlateau",
            }
            append_change_record(self.log_dir, record)


def _is_real_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_path(name, value):
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(
            f"Argument `{name}` must be a directory path. Received: {name}={value!r}"
        )
    return os.fspath(value)
