"""The shared TensorBoard writers (callbacks/summary_writers.py), and helpers that read event files
back with TensorBoard's own reader for the other callback tests."""

import os

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from callbacks import summary_writers
from callbacks.divergence_guard import DivergenceGuard
from callbacks.gradient_statistics import GradientStatistics
from callbacks.learning_rate_logger import LearningRateLogger

pytestmark = pytest.mark.all_backends
# Keras runs one step per call on torch: `steps_per_execution` must be 1 there.
needs_steps_per_execution = pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="steps_per_execution > 1 is not supported on torch"
)


def read_run(log_dir, subdirectory="train"):
    """TensorBoard's EventAccumulator over every event file of `log_dir/subdirectory`."""
    accumulator = event_accumulator.EventAccumulator(
        os.path.join(log_dir, subdirectory), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return accumulator


def tags(accumulator):
    return set(accumulator.Tags()["tensors"])


def series(accumulator, tag):
    """`{step: value}` of a tag; tf.summary (TF2) stores scalars, histograms and text as tensors."""
    return {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in accumulator.Tensors(tag)}


def scalars(accumulator, tag):
    return {step: float(value) for step, value in series(accumulator, tag).items()}


def texts(accumulator, tag):
    return {step: value.item().decode() for step, value in series(accumulator, tag).items()}


def small_regression(n=16, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = (x @ rng.standard_normal((features, 1)) + 0.1).astype("float32")
    return x, y


def small_model(learning_rate=0.05, features=3):
    model = keras.Sequential(
        [keras.Input((features,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def test_our_callbacks_share_one_writer_beside_keras_tensorboard(tmp_path):
    x, y = small_regression()
    model = small_model()
    callbacks = [
        LearningRateLogger(tmp_path, log_every_n_steps=1),
        GradientStatistics((x[:8], y[:8]), tmp_path, log_every_n_steps=1),
        DivergenceGuard(tmp_path),
        # A numeric update_freq makes Keras install a global record_if, False on most batches.
        keras.callbacks.TensorBoard(tmp_path, update_freq=3, write_graph=False),
    ]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False, callbacks=callbacks)

    event_files = os.listdir(tmp_path / "train")
    assert len(event_files) == 2, event_files  # Keras's and ours, not one per callback
    run = read_run(tmp_path)
    # Keras's record_if let its batch summaries through on steps 3 and 6 only (and, a Keras
    # quirk, dropped its epoch summaries: epochs end on steps 4 and 8); ours ignore it.
    assert sorted(scalars(run, "batch_loss")) == [3, 6]
    assert sorted(scalars(run, "optimizer/learning_rate")) == list(range(1, 9))
    assert sorted(scalars(run, "gradients/global_norm")) == list(range(1, 9))
    assert summary_writers.OPEN_WRITERS == {}  # the last callback to end closed the shared writer


def test_writes_read_back_exactly(tmp_path):
    writer = summary_writers.SummaryWriter(tmp_path)
    writer.open()
    values = np.array([1.0, 2.0, 2.0, np.nan, 7.0], np.float32)
    writer.write(5, {"a": 0.25, "b": -3.0})
    writer.write(7, {"a": np.float32(1.5)}, {"h": values})
    writer.text(7, "note", "hello")
    writer.close()

    run = read_run(tmp_path)
    assert scalars(run, "a") == {5: 0.25, 7: 1.5}
    assert scalars(run, "b") == {5: -3.0}
    assert run.summary_metadata["a"].plugin_data.plugin_name == "scalars"
    histogram = series(run, "h")[7]  # rows of (left edge, right edge, count)
    assert histogram[:, 2].sum() == 4  # the finite values
    assert histogram[:, 0].min() == 1.0 and histogram[:, 1].max() == 7.0
    assert run.summary_metadata["h"].plugin_data.plugin_name == "histograms"
    assert texts(run, "note") == {7: "hello"}


def test_no_log_dir_writes_nothing(tmp_path):
    writer = summary_writers.SummaryWriter(None)
    writer.open()
    writer.write(1, {"a": 1.0})
    writer.close()
    assert not writer.enabled and summary_writers.OPEN_WRITERS == {}


def test_logging_steps_are_the_first_and_every_nth():
    assert [s for s in range(1, 12) if summary_writers.logging_steps(s, s, 5)] == [1, 5, 10]
    # Groups of steps (steps_per_execution): every logging step the group holds.
    assert summary_writers.logging_steps(1, 16, 5) == [1, 5, 10, 15]
    assert summary_writers.logging_steps(17, 32, 10) == [20, 30]
    assert summary_writers.logging_steps(33, 39, 10) == []
