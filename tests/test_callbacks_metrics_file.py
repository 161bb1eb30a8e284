"""MetricsFile: one row per epoch, on disk as soon as the epoch ends, continued on restart."""

import csv
import json
import math
import warnings

import keras
import pytest
from test_callbacks_events import small_model, small_regression

from callbacks.divergence_guard import DivergenceGuard
from callbacks.learning_rate_logger import LearningRateLogger
from callbacks.metrics_file import MetricsFile

pytestmark = pytest.mark.all_backends


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class RowCounter(keras.callbacks.Callback):
    """Reads the file back at every epoch end, while training still runs."""

    def __init__(self, path, read):
        super().__init__()
        self.path, self.read, self.counts = path, read, []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(len(self.read(self.path)))


def fit(model, callbacks, epochs=3, initial_epoch=0, **kwargs):
    x, y = small_regression()
    return model.fit(
        x,
        y,
        batch_size=4,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )


def test_jsonl_has_one_row_per_epoch_on_disk_as_it_ends(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    counter = RowCounter(path, read_jsonl)
    history = fit(small_model(0.05), [LearningRateLogger(), MetricsFile(path), counter])
    rows = read_jsonl(path)
    assert counter.counts == [1, 2, 3]  # each row was readable before training ended
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    assert [row["step"] for row in rows] == [4, 8, 12]  # 4 steps per epoch
    assert [row["loss"] for row in rows] == pytest.approx(history.history["loss"])
    assert [row["learning_rate"] for row in rows] == pytest.approx([0.05] * 3)
    assert rows[0]["time"] <= rows[1]["time"] and rows[0]["elapsed_seconds"] >= 0


def test_csv_rows_and_a_header_widened_for_late_keys(tmp_path):
    path = tmp_path / "metrics.csv"
    x, y = small_regression()
    history = fit(
        small_model(), [MetricsFile(path)], epochs=4, validation_data=(x, y), validation_freq=2
    )  # val_loss appears from the second epoch on
    rows = read_csv(path)
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3]
    assert [float(row["loss"]) for row in rows] == pytest.approx(history.history["loss"])
    assert [row["val_loss"] for row in rows][0::2] == ["", ""]
    assert [float(row["val_loss"]) for row in rows[1::2]] == pytest.approx(history.history["val_loss"])


@pytest.mark.parametrize("name, read", [("m.jsonl", read_jsonl), ("m.csv", read_csv)])
def test_append_continues_a_restarted_run_and_a_fresh_start_overwrites(tmp_path, name, read):
    path = tmp_path / name
    model = small_model()
    fit(model, [MetricsFile(path)], epochs=2)
    fit(model, [MetricsFile(path, append=True)], epochs=5, initial_epoch=2)
    assert [int(row["epoch"]) for row in read(path)] == [0, 1, 2, 3, 4]
    assert [int(row["step"]) for row in read(path)] == [4, 8, 12, 16, 20]
    fit(model, [MetricsFile(path)], epochs=1)
    assert [int(row["epoch"]) for row in read(path)] == [0]


def test_append_drops_a_line_cut_off_by_a_kill(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"epoch": 0, "loss": 1.0}\n{"epoch": 1, "lo')
    fit(small_model(), [MetricsFile(path, append=True)], epochs=2, initial_epoch=1)
    assert [row["epoch"] for row in read_jsonl(path)] == [0, 1]


def test_a_diverged_epoch_is_a_row_with_null_loss(tmp_path):
    path = tmp_path / "m.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = fit(small_model(1e4), [DivergenceGuard(max_loss_ratio=None), MetricsFile(path)], epochs=50)
    rows = read_jsonl(path)
    assert len(rows) == len(history.history["loss"]) < 50
    assert not math.isfinite(history.history["loss"][-1]) and rows[-1]["loss"] is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"path": "metrics.txt"}, "Argument `file_format` must be one of 'jsonl', 'csv' when"),
        ({"path": "m.csv", "file_format": "xlsx"}, "Argument `file_format` must be one of"),
        ({"path": "m.csv", "append": "yes"}, "Argument `append` must be True or False"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MetricsFile(**kwargs)
