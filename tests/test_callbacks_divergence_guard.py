"""DivergenceGuard: stops a diverging run and records why (attribute, divergence.json,
TensorBoard) without raising, leaves a healthy run alone, and rolls back when asked."""

import json
import math
import warnings

import keras
import numpy as np
import pytest
from test_callbacks_events import needs_steps_per_execution, read_run, scalars, small_regression, texts

from callbacks.divergence_guard import DivergenceGuard
from callbacks.gradient_statistics import GradientStatistics
from optimizers.introspection import learning_rate_object
from optimizers.schedules import ScaledSchedule

pytestmark = pytest.mark.all_backends


def linear_regression(learning_rate, epochs=5, callbacks=(), steps_per_execution=1):
    x, y = small_regression(n=32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse", steps_per_execution=steps_per_execution)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=list(callbacks))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return model, history, messages


def test_a_huge_learning_rate_is_stopped_and_recorded(tmp_path):
    statistics = GradientStatistics(small_regression(n=8), log_every_n_steps=1)
    guard = DivergenceGuard(tmp_path, gradient_statistics=statistics)
    _, history, messages = linear_regression(1e3, epochs=20, callbacks=[statistics, guard])

    record = guard.record
    assert record is not None and record["reason"] in ("loss_nan", "loss_inf", "loss_growth")
    assert len(history.history["loss"]) < 20  # stopped, and fit returned normally
    assert record["learning_rate"] == pytest.approx(1e3)
    assert record["epoch"] == len(history.history["loss"]) - 1
    assert record["step"] == 4 * record["epoch"] + record["batch"] + 1  # 4 steps per epoch
    if record["reason"] == "loss_growth":
        assert record["loss"] > 100 * record["reference_loss"]
    assert record["gradient_norm"] == statistics.latest["global_gradient_norm"]
    assert record["gradient_norm_step"] == record["step"]  # measured as that step began
    assert [m for m in messages if m.startswith("Diverged")] == [record["message"] + " Training stopped."]

    on_disk = json.loads((tmp_path / "divergence.json").read_text())
    assert on_disk == {
        k: (v if not (isinstance(v, float) and not math.isfinite(v)) else None) for k, v in record.items()
    }
    run = read_run(tmp_path)
    assert scalars(run, "divergence/diverged") == {record["step"]: 1.0}
    assert texts(run, "divergence/reason") == {record["step"]: record["message"]}


def test_a_nan_loss_is_recorded_as_null_in_the_file(tmp_path):
    guard = DivergenceGuard(tmp_path, max_loss_ratio=None)  # only NaN/Inf can stop it
    linear_regression(1e3, epochs=30, callbacks=[guard])
    assert guard.record["reason"] in ("loss_nan", "loss_inf")
    assert json.loads((tmp_path / "divergence.json").read_text())["loss"] is None


def test_a_healthy_run_is_left_alone(tmp_path):
    guard = DivergenceGuard(tmp_path, rollback=True)
    model, history, messages = linear_regression(0.01, epochs=5, callbacks=[guard])
    assert len(history.history["loss"]) == 5 and guard.record is None and guard.rollbacks == []
    assert messages == [] and not model.stop_training
    assert not (tmp_path / "divergence.json").exists()
    assert not (tmp_path / "rollbacks.json").exists()


class FakeRun:
    """Drives the guard's hooks with chosen losses: 4 batches per epoch."""

    def __init__(self, guard):
        self.model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        self.model.compile(optimizer="sgd", loss="mse")
        self.guard = guard
        guard.set_model(self.model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            guard.on_train_begin()

    def losses(self, values):
        """Feeds running-mean losses; returns the index of the one that stopped the run."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for index, loss in enumerate(values):
                if index % 4 == 0:
                    self.guard.on_epoch_begin(index // 4)
                self.guard.on_train_batch_begin(index % 4)
                self.model.optimizer.iterations.assign_add(1)  # as the step would
                self.guard.on_train_batch_end(index % 4, {"loss": loss})
                if self.model.stop_training:
                    return index
        return None


@pytest.mark.parametrize(
    "reference, losses, stopped_at",
    [
        ("initial", [2.0, 1.0, 150.0, 199.0, 201.0], 4),  # past 100 x the first loss, 2.0
        ("best", [2.0, 1.0, 99.0, 101.0], 3),  # past 100 x the lowest so far, 1.0
        ("initial", [2.0, 1.0, 199.0, 1.0, 150.0, 0.5], None),
        ("initial", [2.0, float("inf")], 1),
        ("initial", [float("nan")], 0),
    ],
)
def test_the_stopping_rule(reference, losses, stopped_at):
    guard = DivergenceGuard(max_loss_ratio=100.0, reference=reference)
    assert FakeRun(guard).losses(losses) == stopped_at
    if stopped_at is not None:
        assert guard.record["step"] == stopped_at + 1 and guard.record["epoch"] == stopped_at // 4


@pytest.mark.parametrize(
    "losses, epoch_loss", [([1.0, 1.0, 1.0, float("nan")], "nan"), ([1.0, float("nan"), 1.0, 1.0], 0.5)]
)
def test_an_epoch_that_ends_on_a_rollback_reports_nan_not_the_reset_zero(losses, epoch_loss):
    guard = DivergenceGuard(rollback=True)
    run = FakeRun(guard)
    assert run.losses(losses) is None and len(guard.rollbacks) == 1
    logs = {"loss": 0.5, "val_loss": 0.25}
    guard.on_epoch_end(0, logs)
    assert logs["val_loss"] == 0.25
    assert math.isnan(logs["loss"]) if epoch_loss == "nan" else logs["loss"] == epoch_loss


def test_rollback_restores_the_last_good_state_lowers_the_rate_and_goes_on(tmp_path):
    guard = DivergenceGuard(
        tmp_path, rollback=True, snapshot_every_n_steps=2, learning_rate_factor=0.01, max_rollbacks=3
    )
    model, history, messages = linear_regression(1e3, epochs=8, callbacks=[guard])

    assert guard.record is None and len(history.history["loss"]) == 8  # recovered, ran on
    assert 1 <= len(guard.rollbacks) <= 2  # 1e3 -> 10 (may diverge again) -> 0.1 (stable)
    expected_rate = 1e3 * 0.01 ** len(guard.rollbacks)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(expected_rate)
    first = guard.rollbacks[0]
    assert first["learning_rate_before"] == pytest.approx(1e3)
    assert first["learning_rate_after"] == pytest.approx(10.0)
    assert first["restored_step"] < first["step"]
    assert np.isfinite(history.history["loss"][-1]) and history.history["loss"][-1] < 1.0
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert len(messages) == len(guard.rollbacks) and "Rolled back to step" in messages[0]
    assert json.loads((tmp_path / "rollbacks.json").read_text())[0]["step"] == first["step"]
    assert scalars(read_run(tmp_path), "divergence/rollbacks")[first["step"]] == 1.0


class StateRecorder(keras.callbacks.Callback):
    """Weights and momentum at the start of every step, and right after every batch hook."""

    def __init__(self):
        super().__init__()
        self.at_start, self.after_hooks = {}, {}

    def _state(self):
        momentums = getattr(self.model.optimizer, "momentums", [])  # built at the first step
        return self.model.get_weights() + [v.numpy() for v in momentums]

    def on_train_batch_begin(self, batch, logs=None):
        self.at_start[int(self.model.optimizer.iterations) + 1] = self._state()

    def on_train_batch_end(self, batch, logs=None):
        self.after_hooks[int(self.model.optimizer.iterations)] = self._state()


def test_rollback_restores_exactly_the_weights_and_momentum_of_the_restored_step():
    x, y = small_regression(n=32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(30.0, momentum=0.5), loss="mse")
    guard = DivergenceGuard(rollback=True, snapshot_every_n_steps=1, learning_rate_factor=0.001)
    recorder = StateRecorder()  # after the guard: sees the restored state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[guard, recorder])
    rollback = guard.rollbacks[0]
    restored = recorder.after_hooks[rollback["step"]]
    # The snapshot is the state step `restored_step + 1` began from, the last one a healthy
    # loss vouched for.
    expected = recorder.at_start[rollback["restored_step"] + 1]
    for a, b in zip(restored, expected):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == 12  # the counter was not rolled back


def test_rollback_lowers_a_schedule_through_a_multiplier(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(1e3, decay_steps=100, decay_rate=0.5)
    guard = DivergenceGuard(rollback=True, learning_rate_factor=0.01, max_rollbacks=3)
    model, history, _ = linear_regression(schedule, epochs=6, callbacks=[guard])
    wrapped = learning_rate_object(model.optimizer)
    assert isinstance(wrapped, ScaledSchedule) and wrapped.schedule is schedule
    assert len(guard.rollbacks) >= 1 and guard.record is None
    factor = 0.01 ** len(guard.rollbacks)
    assert float(wrapped.multiplier.numpy()) == pytest.approx(factor)
    step = int(model.optimizer.iterations)
    assert float(model.optimizer.learning_rate) == pytest.approx(factor * float(schedule(step)), rel=1e-5)
    assert np.isfinite(history.history["loss"][-1])
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(wrapped))
    assert float(restored(10)) == pytest.approx(float(wrapped(10)))


def test_rollback_gives_up_after_max_rollbacks_and_stops(tmp_path):
    guard = DivergenceGuard(tmp_path, rollback=True, learning_rate_factor=0.9, max_rollbacks=2)
    _, history, _ = linear_regression(1e6, epochs=20, callbacks=[guard])
    assert len(guard.rollbacks) == 2
    assert guard.record is not None and len(guard.record["rollbacks"]) == 2
    assert len(history.history["loss"]) < 20
    on_disk = json.loads((tmp_path / "divergence.json").read_text())
    assert [r["step"] for r in on_disk["rollbacks"]] == [r["step"] for r in guard.rollbacks]


@needs_steps_per_execution
def test_groups_of_steps_record_the_true_step(tmp_path):
    guard = DivergenceGuard(tmp_path)
    model, _, _ = linear_regression(1e3, epochs=20, callbacks=[guard], steps_per_execution=3)
    assert guard.record["step"] == int(model.optimizer.iterations)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_loss_ratio": 1.0}, "Argument `max_loss_ratio` must be > 1 or None"),
        ({"max_loss_ratio": "10"}, "Argument `max_loss_ratio` must be a number"),
        ({"reference": "last"}, "Argument `reference` must be one of 'initial', 'best'"),
        ({"gradient_statistics": object()}, "Argument `gradient_statistics` must be a Gradient"),
        ({"rollback": 1}, "Argument `rollback` must be True or False"),
        ({"snapshot_every_n_steps": 0}, "Argument `snapshot_every_n_steps` must be an integer"),
        ({"learning_rate_factor": 1.0}, r"Argument `learning_rate_factor` must be in \(0, 1\)"),
        ({"learning_rate_factor": 0.0}, "Argument `learning_rate_factor` must be > 0"),
        ({"max_rollbacks": 0}, "Argument `max_rollbacks` must be an integer > 0"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DivergenceGuard(**kwargs)


def test_a_given_initial_loss_is_the_reference():
    """With steps_per_execution the first loss seen can already be a blown-up mean: a starting
    loss measured before fit pins the reference."""
    assert FakeRun(DivergenceGuard(initial_loss=2.0)).losses([1e5, 1e4]) == 0
    assert FakeRun(DivergenceGuard()).losses([1e5, 1e4]) is None  # 1e4 < 100 x its first loss


def test_initial_loss_is_validated():
    with pytest.raises(ValueError, match=r"Argument `initial_loss` must be > 0. Received: initial_loss=0"):
        DivergenceGuard(initial_loss=0)
