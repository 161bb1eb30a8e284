"""Keras's `ReduceLROnPlateau` for any learning rate, numbers and schedules alike."""

import logging
import math
import time
import warnings

import keras

from callbacks.json_files import check_directory_path
from callbacks.learning_rate_control import (
    LEARNING_RATE,
    append_change_record,
    make_learning_rate_adjustable,
    reduce_learning_rate,
)
from optimizers.introspection import completed_steps, learning_rate_object
from optimizers.validation import (
    check_choice,
    check_non_negative,
    check_non_negative_integer,
    check_positive,
    check_string,
)

logger = logging.getLogger(__name__)


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
        self.log_dir = None if log_dir is None else check_directory_path("log_dir", log_dir)
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
                f"Received: learning_rate={learning_rate_object(self.model.optimizer)!r}"
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
        step = completed_steps(self.model.optimizer)
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
