"""LearningRateLogger logs the rate each step applied: checked against the rate recovered from
the weight update itself (plain SGD: w_new = w - lr * g, with g computed here in numpy)."""

import keras
import numpy as np
import pytest
from test_callbacks_events import needs_steps_per_execution, read_run, scalars

from callbacks.learning_rate_logger import EPOCH_TAG, STEP_TAG, LearningRateLogger

pytestmark = pytest.mark.all_backends

# y = w * x, loss = mean((w * x - y)^2), one full batch per epoch: the gradient is known exactly.
X = np.array([[1.0], [2.0], [-1.0], [0.5]], np.float32)
Y = np.array([[2.0], [3.0], [-1.5], [1.0]], np.float32)


def gradient(w):
    return float(np.mean(2.0 * (w * X - Y) * X))


class AppliedRateRecorder(keras.callbacks.Callback):
    """Recovers the applied rate of every step from w_new = w - lr * g."""

    def __init__(self):
        super().__init__()
        self.rates = {}

    def on_train_batch_begin(self, batch, logs=None):
        self._w = float(self.model.layers[0].kernel.numpy()[0, 0])

    def on_train_batch_end(self, batch, logs=None):
        w_new = float(self.model.layers[0].kernel.numpy()[0, 0])
        step = int(self.model.optimizer.iterations)
        self.rates[step] = (self._w - w_new) / gradient(self._w)


class SetRateAtStep(keras.callbacks.Callback):
    """Changes a float learning rate just before step `step` runs (a run-time change)."""

    def __init__(self, step, value):
        super().__init__()
        self.step, self.value = step, value

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) + 1 == self.step:
            self.model.optimizer.learning_rate = self.value


def fit(learning_rate, callbacks, epochs=7):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    history = model.fit(X, Y, batch_size=len(X), epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)
    return model, history


@pytest.mark.parametrize(
    "schedule, formula",
    [
        (
            keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5),
            lambda k: 0.1 * 0.5 ** (k / 2),
        ),
        (
            keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5),
            lambda k: 0.1 / (1 + 0.5 * k),  # the notes' lr0 / (1 + decay * step)
        ),
    ],
    ids=["exponential", "inverse_time"],
)
def test_logged_rate_is_the_schedule_at_the_step_before_the_update(tmp_path, schedule, formula):
    recorder = AppliedRateRecorder()
    logger = LearningRateLogger(tmp_path, log_every_n_steps=3)
    _, history = fit(schedule, [recorder, logger])

    logged = scalars(read_run(tmp_path), STEP_TAG)
    assert sorted(logged) == [1, 3, 6]
    for step, value in logged.items():
        assert value == pytest.approx(formula(step - 1), rel=1e-6)  # schedule(iterations before)
        assert value == pytest.approx(recorder.rates[step], rel=1e-4)  # what the update used
        assert value != pytest.approx(formula(step), rel=1e-3)  # not the next step's rate
    # Per epoch (one step each): the rate of the epoch's last step, in TensorBoard and logs.
    per_epoch = [formula(epoch) for epoch in range(7)]
    assert history.history["learning_rate"] == pytest.approx(per_epoch, rel=1e-6)
    assert scalars(read_run(tmp_path), EPOCH_TAG) == {
        epoch: pytest.approx(value, rel=1e-6) for epoch, value in enumerate(per_epoch)
    }


def test_a_rate_changed_at_run_time_is_logged_from_the_step_it_acts_on(tmp_path):
    recorder = AppliedRateRecorder()
    logger = LearningRateLogger(tmp_path, log_every_n_steps=1)
    fit(0.1, [SetRateAtStep(4, 0.02), recorder, logger], epochs=6)

    logged = scalars(read_run(tmp_path), STEP_TAG)
    expected = {1: 0.1, 2: 0.1, 3: 0.1, 4: 0.02, 5: 0.02, 6: 0.02}
    assert logged == {step: pytest.approx(rate, rel=1e-6) for step, rate in expected.items()}
    assert recorder.rates == {step: pytest.approx(rate, rel=1e-4) for step, rate in expected.items()}


def test_epoch_rate_is_the_last_steps_with_several_steps_per_epoch():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    history = model.fit(X, Y, batch_size=1, epochs=2, verbose=0, callbacks=[LearningRateLogger()])
    # Four steps per epoch: epoch 0 ends with step 4 (schedule(3)), epoch 1 with step 8.
    assert history.history["learning_rate"] == pytest.approx([0.1 * 0.9**3, 0.1 * 0.9**7])


def test_epoch_rate_of_a_float_changed_mid_epoch_is_the_last_steps():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    callbacks = [SetRateAtStep(3, 0.05), SetRateAtStep(7, 0.01), LearningRateLogger(log_every_n_steps=100)]
    history = model.fit(X, Y, batch_size=1, epochs=2, verbose=0, callbacks=callbacks)
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.01])  # steps 4 and 8


def test_logs_key_can_be_renamed():
    _, history = fit(0.1, [LearningRateLogger(logs_key="lr")], epochs=1)
    assert history.history["lr"] == pytest.approx([0.1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"log_every_n_steps": 0}, "Argument `log_every_n_steps` must be an integer > 0"),
        ({"log_every_n_steps": 2.0}, "Received: log_every_n_steps=2.0"),
        ({"logs_key": ""}, "Argument `logs_key` must be a non-empty string"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearningRateLogger(**kwargs)


@needs_steps_per_execution
def test_groups_of_steps_log_every_logging_step_they_hold(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    # Keras calls the batch hooks once per 3 steps: groups 1-3, 4-6, 7-8 in each 8-step epoch.
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse", steps_per_execution=3)
    x, y = np.repeat(X, 2, axis=0), np.repeat(Y, 2, axis=0)
    history = model.fit(
        x, y, batch_size=1, epochs=2, verbose=0, callbacks=[LearningRateLogger(tmp_path, log_every_n_steps=2)]
    )
    logged = scalars(read_run(tmp_path), STEP_TAG)
    assert logged == {s: pytest.approx(0.1 * 0.9 ** (s - 1), rel=1e-6) for s in [1, *range(2, 17, 2)]}
    assert history.history["learning_rate"] == pytest.approx([0.1 * 0.9**7, 0.1 * 0.9**15])


@needs_steps_per_execution
def test_groups_of_steps_from_a_dataset_of_unknown_length():
    import tensorflow as tf

    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse", steps_per_execution=3)
    x, y = np.repeat(X, 2, axis=0), np.repeat(Y, 2, axis=0)
    # filter() hides the length: Keras cannot cap the last group's end step at the epoch's.
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda *_: True).batch(1)
    history = model.fit(dataset, epochs=2, verbose=0, callbacks=[LearningRateLogger()])
    assert history.history["learning_rate"] == pytest.approx([0.1 * 0.9**7, 0.1 * 0.9**15])
