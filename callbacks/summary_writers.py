"""TensorBoard output for the callbacks: one shared event-file writer per run directory.

`keras.callbacks.TensorBoard(log_dir)` writes to `log_dir/train` and `log_dir/validation`; our
callbacks write into the same directories, so TensorBoard shows their curves in the same runs.
All of our callbacks share one writer per directory (reference-counted: opened by the first
callback that starts training, closed when the last one ends), so a run directory holds one
event file from Keras's TensorBoard callback and one from ours, not one per callback.
TensorBoard reads every event file of a directory as one run.

How: each write builds one `Summary` protobuf with TensorBoard's own constructors (`scalar_pb`,
`histogram_pb`, `text_pb`: the tags, plugin metadata and tensor layout `tf.summary.scalar`,
`histogram` and `text` write), wraps it in an `Event` with its step, and appends it to the
event file, a TFRecord file of `Event`s. On the TensorFlow backend the record framing is
`tf.io.TFRecordWriter`'s (C++ framing and checksums, no TensorFlow op, no thread); on JAX and
torch, TensorBoard's own `RecordWriter` (the framing TensorBoard reads, pure Python; no
TensorFlow import). Measured on a 2-core CPU:
- ~20 us per event plus ~10 us per scalar and ~1 ms per histogram of 16k values, against
  0.15-0.4 ms per eager `tf.summary` op (one per scalar; ~5 ms per histogram), seconds of
  tracing to compile them in a `tf.function`; TensorBoard's `RecordWriter` adds a pure-Python
  checksum of ~16 us per 100 bytes (synchronously: its `EventFileWriter` would run it in a
  GIL-holding thread);
- Keras's `tf.summary` state (the default writer and the `record_if` it installs when
  `update_freq` is a number) neither affects our writes nor is affected by them.
"""

import itertools
import os
import socket
import time

import keras
import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.histogram.summary_v2 import histogram_pb
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.plugins.text.summary_v2 import text_pb
from tensorboard.summary.writer.record_writer import RecordWriter

from optimizers.introspection import completed_steps

TRAIN = "train"
VALIDATION = "validation"

OPEN_WRITERS = {}  # absolute directory -> _EventFile
_file_numbers = itertools.count()


class _EventFile:
    """An event file (TensorBoard reads any file whose name holds "tfevents") and its users."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_file_numbers)}.callbacks.v2"
        )
        self.records = _record_file(os.path.join(directory, name))
        self.add(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self.users = 0

    def add(self, event):
        self.records.write(event.SerializeToString())

    def flush(self):
        self.records.flush()

    def close(self):
        self.records.close()


class _PlainRecordFile:
    """TensorBoard's TF-free TFRecord framing over a plain file, with the TFRecordWriter API."""

    def __init__(self, path):
        self._file = open(path, "wb")
        self._records = RecordWriter(self._file)

    def write(self, data):
        self._records.write(data)

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()


def _record_file(path):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.io.TFRecordWriter(path)
    return _PlainRecordFile(path)


def variable_name(model, variable):
    """`dense_1/kernel`: the variable's path without the model's name in front (a tag name)."""
    prefix = model.name + "/"
    path = variable.path
    return path[len(prefix) :] if path.startswith(prefix) else path


def logging_steps(first, last, every_n_steps):
    """The logging steps among steps `first..last`: steps 1, n, 2n, ... (step 1 shows the
    state at initialization).

    With `steps_per_execution=k` Keras calls the batch hooks once per k steps, with the first
    and last step of the group: the callbacks then log the logging steps the group contains.
    """
    steps = [1] if first <= 1 <= last else []
    start = max(-(-first // every_n_steps) * every_n_steps, every_n_steps)
    steps.extend(s for s in range(start, last + 1, every_n_steps) if s != 1)
    return steps


class StepCounter:
    """The optimizer's step count (1-based steps), followed from the batch hooks' indices.

    One read of `optimizer.iterations` per `fit` (each costs 0.02-0.3 ms on a busy 2-core
    machine; under `tf.distribute` it is the aggregated counter), then arithmetic: a batch
    hook's `batch` counts from the epoch's start.
    Assumes one batch is one optimizer step (no `gradient_accumulation_steps`) and that
    nothing else moves the counter while training runs.
    """

    def start(self, callback):
        """In `on_train_begin`."""
        self.done = completed_steps(callback.model.optimizer)
        self.before_epoch = self.done
        # Read once: on JAX every `callback.model` access syncs the training state.
        self.steps_per_execution = getattr(callback.model, "steps_per_execution", 1) or 1

    def begin_epoch(self):
        """In `on_epoch_begin`."""
        self.before_epoch = self.done

    def first(self, batch):
        """In `on_train_batch_begin`: the step about to run (the first of its group)."""
        return self.before_epoch + batch + 1

    def last(self, callback, batch):
        """In `on_train_batch_end`: the last step the batch ran.

        Keras reports `end_step = begin_step + k - 1` even for an epoch's shorter last group
        of `steps_per_execution=k` steps: cap it at the epoch's length, or, when that is
        unknown, read the counter (once per k steps).
        """
        step = self.before_epoch + batch + 1
        if self.steps_per_execution > 1:
            steps_per_epoch = (callback.params or {}).get("steps")
            if steps_per_epoch:
                step = min(step, self.before_epoch + steps_per_epoch)
            else:
                step = completed_steps(callback.model.optimizer)
        self.done = step
        return step

    def last_of_group(self, first):
        """The last step of the group that begins at `first`, as far as it is known."""
        return first + self.steps_per_execution - 1


class SummaryWriter:
    """One callback's handle on the shared writer of `log_dir/subdirectory`.

    Call `open()` in `on_train_begin` and `close()` in `on_train_end`. With `log_dir=None` every
    method does nothing, so a callback can run without TensorBoard output.
    """

    def __init__(self, log_dir, subdirectory=TRAIN):
        self.directory = None if log_dir is None else os.path.abspath(os.path.join(os.fspath(log_dir), subdirectory))
        self._shared = None

    @property
    def enabled(self):
        return self.directory is not None

    def open(self):
        if self.directory is None or self._shared is not None:
            return
        shared = OPEN_WRITERS.get(self.directory)
        if shared is None:
            shared = OPEN_WRITERS[self.directory] = _EventFile(self.directory)
        shared.users += 1
        self._shared = shared

    def close(self):
        """Flushes; the last user of the directory closes the file."""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        shared.users -= 1
        shared.flush()
        if shared.users == 0:
            shared.close()
            if OPEN_WRITERS.get(self.directory) is shared:
                del OPEN_WRITERS[self.directory]

    def flush(self):
        if self._shared is not None:
            self._shared.flush()

    def write(self, step, scalars=None, histograms=None):
        """Writes `{tag: float}` scalars and `{tag: array}` histograms at `step`, as one event.

        Histograms count the finite values only (a diverged run's NaN would void the buckets).
        """
        if self._shared is None:
            return
        summary = summary_pb2.Summary()
        for tag, value in (scalars or {}).items():
            summary.value.extend(scalar_pb(tag, float(value)).value)
        for tag, values in (histograms or {}).items():
            values = np.asarray(values, dtype=np.float64).reshape(-1)
            summary.value.extend(histogram_pb(tag, values[np.isfinite(values)]).value)
        self._write(step, summary)

    def text(self, step, tag, text):
        if self._shared is None:
            return
        self._write(step, text_pb(tag, text))

    def _write(self, step, summary):
        event = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
        self._shared.add(event)
