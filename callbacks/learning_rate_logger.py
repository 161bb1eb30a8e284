"""The learning rate each optimizer step actually applied, per step and per epoch."""

import keras

from callbacks.summary_writers import StepCounter, SummaryWriter, logging_steps
from optimizers.introspection import applied_learning_rate, current_learning_rate, learning_rate_schedule
from optimizers.validation import check_positive_integer, check_string

STEP_TAG = "optimizer/learning_rate"
EPOCH_TAG = "optimizer/epoch_learning_rate"


class LearningRateLogger(keras.callbacks.Callback):
    """Logs the learning rate each optimizer step applied, per step and per epoch.

    Keras evaluates the learning rate inside the train step, before it increments `iterations`:

    ```python
    # step t = 1, 2, ...: optimizer.iterations == t - 1 while it runs and == t afterwards
    lr_t = schedule(t - 1)          # a keras.optimizers.schedules.LearningRateSchedule
    lr_t = learning_rate.value      # a float: the variable's value when the step runs
    lr_t = learning_rate_fn()       # a callable without arguments
    ```

    So `optimizer.learning_rate` read after step t, which is what `keras.callbacks.TensorBoard`
    logs as `epoch_learning_rate`, is the rate of the *next* step, `schedule(t)`. This callback
    logs `lr_t` itself: for a schedule computed from t, otherwise read just before the step runs
    (`on_train_batch_begin`), so a value changed at run time is logged from the step it acts on.

    Writes, to `log_dir/train` (skipped with `log_dir=None`):
    - `"optimizer/learning_rate"` at step t (the optimizer's step count, 1-based, across `fit`
      calls), at steps 1, n, 2n, ... with n = `log_every_n_steps`;
    - `"optimizer/epoch_learning_rate"` at each epoch end, with step = epoch: the rate of the
      epoch's last step;
    - `logs[logs_key]` at each epoch end (the same value), so `History`, `MetricsFile`,
      `keras.callbacks.CSVLogger` and the runner see it.

    Callback order: after the callbacks that set the learning rate when a batch or an epoch
    begins (`keras.callbacks.LearningRateScheduler`, hyperparameter controllers), so that it
    reads the value they set; before those that set it when an epoch ends
    (`keras.callbacks.ReduceLROnPlateau`), whose new value belongs to the next epoch; and
    before the callbacks that read epoch `logs` (`MetricsFile`, `CSVLogger`), which would
    otherwise miss `logs["learning_rate"]`.

    Assumes one batch is one optimizer step (no `gradient_accumulation_steps`). With
    `steps_per_execution=k` Keras calls the hooks once per k steps; the logging steps inside
    each group are all logged (a float learning rate cannot change inside a group).

    Cost: one scalar event (~30 us) per logged step and per epoch; for a float learning rate
    one variable read (0.02-0.3 ms) before each logged step and at each epoch's end, for a
    schedule one evaluation (~0.2 ms) per logged step and per epoch.

    Args:
        log_dir: The run directory shared with `keras.callbacks.TensorBoard`, or None.
        log_every_n_steps: int > 0, steps between per-step values. Defaults to `10`.
        logs_key: str, the key added to epoch `logs`. Defaults to `"learning_rate"`, the name
            `keras.callbacks.TensorBoard` uses.
    """

    def __init__(self, log_dir=None, log_every_n_steps=10, logs_key="learning_rate"):
        super().__init__()
        self.log_every_n_steps = check_positive_integer("log_every_n_steps", log_every_n_steps)
        self.logs_key = check_string("logs_key", logs_key)
        self._writer = SummaryWriter(log_dir)
        self._steps = StepCounter()
        self._first_step = self._last_step = self._read_at_step = None
        self._last_learning_rate = None

    def on_train_begin(self, logs=None):
        self._writer.open()
        self._steps.start(self)
        # Which kind of rate it is needs no variable value: ask this object, not `self.model`
        # (on JAX each `self.model` syncs the training state into the variables).
        self._optimizer = self.model.optimizer

    def on_epoch_begin(self, epoch, logs=None):
        self._steps.begin_epoch()
        self._last_step = self._read_at_step = None

    def on_train_batch_begin(self, batch, logs=None):
        self._first_step = self._steps.first(batch)
        if learning_rate_schedule(self._optimizer) is not None:
            return  # computed from the step when needed
        # A variable read costs 0.02-0.3 ms: only before groups that hold a logged step.
        if logging_steps(self._first_step, self._steps.last_of_group(self._first_step), self.log_every_n_steps):
            self._read_learning_rate(self._first_step)

    def _read_learning_rate(self, step):
        self._last_learning_rate = current_learning_rate(self.model.optimizer)
        self._read_at_step = step

    def _learning_rate_of(self, step):
        """Exact for a schedule; else the value read before the step's group ran."""
        if learning_rate_schedule(self._optimizer) is not None:
            return applied_learning_rate(self._optimizer, step)
        return self._last_learning_rate

    def on_train_batch_end(self, batch, logs=None):
        self._last_step = self._steps.last(self, batch)
        for step in logging_steps(self._first_step, self._last_step, self.log_every_n_steps):
            self._writer.write(step, {STEP_TAG: self._learning_rate_of(step)})

    def on_epoch_end(self, epoch, logs=None):
        if self._last_step is None:  # an epoch without steps
            return
        no_schedule = learning_rate_schedule(self._optimizer) is None
        if no_schedule and self._read_at_step != self._first_step:
            # Not read before the last group: it still holds the value that group used, unless
            # a callback earlier in the list changed it in on_epoch_end (see the order below).
            self._read_learning_rate(self._first_step)
        learning_rate = self._learning_rate_of(self._last_step)
        if logs is not None:
            logs[self.logs_key] = learning_rate
        self._writer.write(epoch, {EPOCH_TAG: learning_rate})
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._writer.close()
