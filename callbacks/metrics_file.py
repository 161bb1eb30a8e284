"""Per-epoch metrics in a CSV or JSON-lines file, on disk after every epoch."""

import csv
import os
import time

import keras

from callbacks.json_files import json_line
from optimizers.introspection import completed_steps
from optimizers.validation import check_bool, check_choice

FORMATS = ("jsonl", "csv")
_EXTENSIONS = {".jsonl": "jsonl", ".csv": "csv"}


class MetricsFile(keras.callbacks.Callback):
    """Writes one row per epoch to a JSON-lines or CSV file, flushed (and fsync'd) each epoch.

    Each row holds

    ```python
    {"epoch": epoch, "step": optimizer.iterations, "time": time.time(),
     "elapsed_seconds": seconds since this fit began, **logs}
    ```

    with `logs` the epoch's logs as the callbacks before this one left them (loss, metrics,
    `val_*`, and `learning_rate` from `LearningRateLogger`), so put it after them. The file is
    flushed after every row, so a process killed half-way keeps every finished epoch; with
    `fsync=True` (the default) it is also `os.fsync`ed, so the rows survive a crash of the
    machine too (~1 ms per epoch on a small disk).
    With `append=True` a restarted run continues the same file (a last line cut off by the
    kill is dropped first); otherwise the file is started afresh.

    Why not `keras.callbacks.CSVLogger`: it flushes without fsync, has no step or time
    columns, fixes its columns at the first epoch (later keys are dropped) and writes NaN as
    text. Here:
    - JSON lines (default for `.jsonl`): every row carries its own keys; NaN and Inf, which
      JSON lacks, are written as null, so a diverged epoch is a row with `"loss": null`.
    - CSV (`.csv`): a key that appears in a later epoch (e.g. `val_loss` with
      `validation_freq`) rewrites the file once with the wider header; missing values are
      empty cells; NaN is written as `nan`.

    Args:
        path: File to write; its directory is created.
        file_format: `"jsonl"` or `"csv"`, or None to take it from the extension.
        append: bool, continue an existing file. Defaults to `False`.
        fsync: bool, `os.fsync` after every row. Defaults to `True`.
    """

    def __init__(self, path, file_format=None, append=False, fsync=True):
        super().__init__()
        self.path = os.fspath(path)
        if file_format is None:
            extension = os.path.splitext(self.path)[1].lower()
            if extension not in _EXTENSIONS:
                raise ValueError(
                    "Argument `file_format` must be one of 'jsonl', 'csv' when `path` does not "
                    f"end in .jsonl or .csv. Received: file_format=None, path={self.path!r}"
                )
            file_format = _EXTENSIONS[extension]
        self.file_format = check_choice("file_format", file_format, FORMATS)
        self.append = check_bool("append", append)
        self.fsync = check_bool("fsync", fsync)
        self._file = None
        self._columns = None

    def on_train_begin(self, logs=None):
        self._started = time.time()
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._columns = None
        if self.append and os.path.exists(self.path):
            _drop_partial_last_line(self.path)
            if self.file_format == "csv":
                with open(self.path, newline="") as f:
                    self._columns = next(csv.reader(f), None)
            self._file = open(self.path, "a", newline="")
        else:
            self._file = open(self.path, "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        row = {
            "epoch": epoch,
            "step": completed_steps(self.model.optimizer),
            "time": time.time(),
            "elapsed_seconds": time.time() - self._started,
        }
        row.update((key, _plain(value)) for key, value in sorted((logs or {}).items()))
        if self.file_format == "jsonl":
            self._file.write(json_line(row))
        else:
            self._write_csv_row(row)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def _write_csv_row(self, row):
        if self._columns is None:
            self._columns = list(row)
            csv.writer(self._file).writerow(self._columns)
        elif any(key not in self._columns for key in row):
            self._widen_csv([key for key in row if key not in self._columns])
        csv.DictWriter(self._file, fieldnames=self._columns, restval="").writerow(row)

    def _widen_csv(self, new_columns):
        """Rewrites the file with the extra columns (atomically: temporary file, then rename)."""
        self._file.close()
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        self._columns = self._columns + new_columns
        temporary = f"{self.path}.tmp"
        with open(temporary, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)
        self._file = open(self.path, "a", newline="")

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _plain(value):
    """numpy scalars and 0-d arrays as Python numbers."""
    return value.item() if hasattr(value, "item") else value


def _drop_partial_last_line(path):
    """A run killed mid-write leaves a line without its newline: cut the file after the last one."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)
