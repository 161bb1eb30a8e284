"""Applies a person's edits of a JSON file to a running `fit`'s hyperparameters.

The notes: "useful to have a model that can tune parameters during runtime in case weird
behavior is being observed, can still save the model by changing a parameter".

The learning rate changes through `callbacks.learning_rate_control` (a variable, or a
schedule's multiplier: no retrace). Our optimizers hold momentum, the betas and rho in variables
too (optimizers/hyperparameters.py): no retrace. Keras's own bake them into the traced train
function as Python floats, so changing one of theirs retraces it
(`model.make_train_function(force=True)`; `fit` calls `model.train_function` afresh each batch).
"""

import json
import logging
import os
import time
import warnings

import keras
import numpy as np

from callbacks.json_files import check_directory_path, write_json_atomic
from callbacks.learning_rate_control import (
    LEARNING_RATE,
    MULTIPLIER,
    append_change_record,
    make_learning_rate_adjustable,
    read_learning_rate_control,
    write_learning_rate_control,
)
from optimizers.hyperparameters import held
from optimizers.introspection import base_optimizer, completed_steps, number_hyperparameters
from optimizers.validation import (
    check_choice,
    check_non_negative,
    check_positive_integer,
    check_unit_interval,
)

CONTROL_FILENAME = "hyperparameters.json"
# Read as Python floats while the train function is traced, unless the optimizer holds them in
# variables: changing one of Keras's optimizers' needs a retrace.
TRACED_HYPERPARAMETERS = ("momentum", "beta_1", "beta_2", "rho")

logger = logging.getLogger(__name__)


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
        self.log_dir = check_directory_path("log_dir", log_dir)
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
        self._starting_values = number_hyperparameters(optimizer, TRACED_HYPERPARAMETERS)
        current = {}
        if self._learning_rate_control is not None:
            current[self._learning_rate_control] = _shortest(
                read_learning_rate_control(optimizer, self._learning_rate_control)
            )
        current.update({name: _shortest(v) for name, v in self._starting_values.items()})
        os.makedirs(self.log_dir, exist_ok=True)
        write_json_atomic(self.path, current)
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
            in_variables = held(base_optimizer(self.model.optimizer))
            needs_retrace |= name in TRACED_HYPERPARAMETERS and name not in in_variables
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
            write_learning_rate_control(self.model, name, value)

    def _record(self, name, old_value, new_value, rejection):
        step = completed_steps(self.model.optimizer)
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
