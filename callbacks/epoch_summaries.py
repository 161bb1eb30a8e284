"""Epoch curves (loss, metrics, learning rate) in TensorBoard, as `keras.callbacks.TensorBoard`
writes them with `update_freq="epoch"`, for a fraction of its cost."""

import keras

from callbacks.summary_writers import TRAIN, VALIDATION, SummaryWriter
from optimizers.introspection import completed_steps, current_learning_rate

VALIDATION_PREFIX = "val_"


class EpochSummaries(keras.callbacks.Callback):
    """Writes each epoch's logs to `log_dir/train` and `log_dir/validation`.

    The tags and steps are those of `keras.callbacks.TensorBoard(log_dir, update_freq="epoch")`,
    so dashboards and readers of its curves work unchanged:
    - `epoch_<name>` at step = epoch: training logs in `train`, `val_<name>` logs in
      `validation` (without the prefix);
    - `epoch_learning_rate` in `train`: `logs["learning_rate"]` when a callback before this one
      put it there (`LearningRateLogger`: the rate the epoch's last step applied), else the
      optimizer's current rate, which is what Keras's callback always writes (for a schedule,
      the rate of the *next* step);
    - `evaluation_<name>_vs_iterations` in `validation` at step = the optimizer's step count,
      after every evaluation; for an epoch whose `val_<name>` logs came from elsewhere than
      `fit`'s own evaluation (a callback before this one), from those logs.

    Why not Keras's callback: it writes through eager `tf.summary` ops, ~2 ms per epoch on a
    2-core CPU, about a tenth of a digits run; this one writes the events directly through the
    callbacks' shared writer (callbacks/summary_writers.py, ~0.1 ms), on every backend. It writes
    no graph, histograms, profiles or per-batch values: use Keras's callback for those.

    Put it after the callbacks that add to epoch `logs` (`LearningRateLogger`).

    Args:
        log_dir: The run directory, or None to write nothing.
    """

    def __init__(self, log_dir):
        super().__init__()
        self._train = SummaryWriter(log_dir, TRAIN)
        self._validation = SummaryWriter(log_dir, VALIDATION)
        self._evaluated = False  # whether fit's evaluate ran this epoch (on_test_end)

    def on_train_begin(self, logs=None):
        self._train.open()
        self._validation.open()

    def on_train_end(self, logs=None):
        self._train.close()
        self._validation.close()

    def on_epoch_begin(self, epoch, logs=None):
        self._evaluated = False

    def on_test_end(self, logs=None):
        self._evaluated = True
        self._write_evaluation(logs)

    def _write_evaluation(self, logs):
        if not logs or not self._validation.enabled or self.model.optimizer is None:
            return
        scalars = {f"evaluation_{name}_vs_iterations": value for name, value in logs.items()}
        self._validation.write(completed_steps(self.model.optimizer), scalars)

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith(VALIDATION_PREFIX)}
        validation = {k[len(VALIDATION_PREFIX) :]: v for k, v in logs.items() if k.startswith(VALIDATION_PREFIX)}
        if "epoch_learning_rate" not in train and self.model.optimizer is not None:
            train["epoch_learning_rate"] = current_learning_rate(self.model.optimizer)
        if validation and not self._evaluated:
            self._write_evaluation(validation)  # validated by a callback, not by fit's evaluate
        self._train.write(epoch, train)
        if validation:
            self._validation.write(epoch, {f"epoch_{k}": v for k, v in validation.items()})
