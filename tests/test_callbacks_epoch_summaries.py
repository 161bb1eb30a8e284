"""EpochSummaries writes the epoch curves keras.callbacks.TensorBoard writes: same tags, steps and
values, read back with TensorBoard's reader."""

import keras
import numpy as np
import pytest

from callbacks import EpochSummaries, LearningRateLogger
from tests.test_callbacks_events import read_run, scalars, small_model, small_regression, tags

pytestmark = pytest.mark.all_backends


def _fit(callbacks, learning_rate=0.05, epochs=3):
    keras.utils.set_random_seed(3)
    model = small_model(learning_rate)
    model.compile(optimizer=model.optimizer, loss="mse", metrics=["mae"])
    x, y = small_regression(n=24)
    model.fit(x[:16], y[:16], validation_data=(x[16:], y[16:]), batch_size=4, epochs=epochs, verbose=0,
              shuffle=False, callbacks=callbacks)  # fmt: skip
    return model


def _curves(log_dir, subdirectory):
    run = read_run(log_dir, subdirectory)
    return {tag: scalars(run, tag) for tag in tags(run)}


def test_same_tags_steps_and_values_as_kerass_tensorboard(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "keras"
    _fit([EpochSummaries(ours)])
    _fit([keras.callbacks.TensorBoard(theirs, write_graph=False, update_freq="epoch")])
    for subdirectory in ("train", "validation"):
        expected = _curves(theirs, subdirectory)
        got = _curves(ours, subdirectory)
        assert got.keys() == expected.keys(), subdirectory
        for tag, values in expected.items():
            assert got[tag].keys() == values.keys(), tag
            np.testing.assert_allclose(list(got[tag].values()), list(values.values()), rtol=1e-6, err_msg=tag)
    train = _curves(ours, "train")
    assert {"epoch_loss", "epoch_mae", "epoch_learning_rate"} <= train.keys()
    assert sorted(train["epoch_loss"]) == [0, 1, 2]
    validation = _curves(ours, "validation")
    assert sorted(validation["evaluation_loss_vs_iterations"]) == [4, 8, 12]  # 4 steps per epoch


def test_the_learning_rate_a_logger_put_in_the_logs_is_the_one_written(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    keras.utils.set_random_seed(3)
    model = small_model()
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    x, y = small_regression(n=8)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False,
              callbacks=[LearningRateLogger(None), EpochSummaries(tmp_path)])  # fmt: skip
    # The rate of each epoch's last step (steps 2 and 4: schedule(1), schedule(3)), not the next one.
    rates = _curves(tmp_path, "train")["epoch_learning_rate"]
    np.testing.assert_allclose([rates[0], rates[1]], [0.1 * 0.5, 0.1 * 0.5**3], rtol=1e-6)


def test_log_dir_none_writes_nothing(tmp_path):
    _fit([EpochSummaries(None)], epochs=1)
    assert not list(tmp_path.iterdir())
