"""Changing hyperparameters mid-`fit`: edits of the control file, and plateau reduction.

The model has one weight and loss = prediction, so every gradient is exactly 1: the weight's
trajectory is a closed form of the hyperparameters used at each step, computed here in float64.
"""

import json
import math
import os

import keras
import numpy as np
import pytest
from keras import ops
from one_weight_model import KernelRecorder, one_weight_model

from callbacks.hyperparameter_control import CONTROL_FILENAME, HyperparameterControl
from callbacks.learning_rate_control import CHANGES_FILENAME
from callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from optimizers import SGD, Adam, RMSprop
from optimizers.introspection import learning_rate_object
from optimizers.schedules import InverseTimeDecay, ScaledSchedule, Warmup

pytestmark = pytest.mark.all_backends


class _EditFile(keras.callbacks.Callback):
    """Plays the person: overwrites the control file after update number `after_step`."""

    def __init__(self, path, edits):
        super().__init__()
        self.path = path
        self.edits = dict(edits)  # {after_step: text}
        self.steps = 0
        self.initial_file = None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.initial_file is None:
            with open(self.path) as file:
                self.initial_file = json.load(file)
        if self.steps in self.edits:
            with open(self.path, "w") as file:
                file.write(self.edits[self.steps])


def _fit(model, steps, callbacks, steps_per_epoch=None):
    steps_per_epoch = steps_per_epoch or steps
    x = np.ones((steps_per_epoch, 1), "float32")
    return model.fit(
        x,
        x,
        batch_size=1,
        epochs=steps // steps_per_epoch,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def _changes(log_dir):
    with open(os.path.join(log_dir, CHANGES_FILENAME)) as file:
        return [json.loads(line) for line in file]


# Float64 trajectories for gradient 1, with per-step hyperparameters `h(step)` (a dict).
def sgd_kernels(h, steps):
    w, velocity, kernels = 0.0, 0.0, [0.0]
    for n in range(steps):
        velocity = h(n)["momentum"] * velocity - h(n)["learning_rate"]
        w += velocity
        kernels.append(w)
    return kernels


def adam_kernels(h, steps, epsilon=1e-7):
    w, m, v, kernels = 0.0, 0.0, 0.0, [0.0]
    for n in range(steps):
        b1, b2, t = h(n)["beta_1"], h(n)["beta_2"], n + 1
        m = b1 * m + (1 - b1) * 1.0
        v = b2 * v + (1 - b2) * 1.0
        step_size = h(n)["learning_rate"] * math.sqrt(1 - b2**t) / (1 - b1**t)
        w -= step_size * m / (math.sqrt(v) + epsilon)
        kernels.append(w)
    return kernels


def rmsprop_kernels(h, steps, epsilon=1e-7):
    w, v, kernels = 0.0, 0.0, [0.0]
    for n in range(steps):
        v = h(n)["rho"] * v + (1 - h(n)["rho"]) * 1.0
        w -= h(n)["learning_rate"] / math.sqrt(v + epsilon)
        kernels.append(w)
    return kernels


EDIT_CASES = {
    "sgd": (
        lambda: SGD(0.1, momentum=0.5),
        {"learning_rate": 0.1, "momentum": 0.5},
        {"learning_rate": 0.05, "momentum": 0.8},
        sgd_kernels,
    ),
    "keras_sgd": (
        lambda: keras.optimizers.SGD(0.1, momentum=0.5),
        {"learning_rate": 0.1, "momentum": 0.5},
        {"learning_rate": 0.05, "momentum": 0.8},
        sgd_kernels,
    ),
    "adam": (
        lambda: Adam(0.1),
        {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999},
        {"beta_1": 0.5, "beta_2": 0.9},
        adam_kernels,
    ),
    "keras_adam": (
        lambda: keras.optimizers.Adam(0.1),
        {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999},
        {"beta_1": 0.5, "beta_2": 0.9},
        adam_kernels,
    ),
    "rmsprop": (
        lambda: RMSprop(0.1, rho=0.9),
        {"learning_rate": 0.1, "rho": 0.9, "momentum": 0.0},
        {"learning_rate": 0.02, "rho": 0.5},
        rmsprop_kernels,
    ),
    "keras_rmsprop": (
        lambda: keras.optimizers.RMSprop(0.1, rho=0.9),
        {"learning_rate": 0.1, "rho": 0.9, "momentum": 0.0},
        {"learning_rate": 0.02, "rho": 0.5},
        rmsprop_kernels,
    ),
}


@pytest.mark.parametrize("case", EDIT_CASES)
def test_edit_mid_fit_changes_the_values_and_the_updates(case, tmp_path):
    make_optimizer, initial, edit, reference = EDIT_CASES[case]
    model = one_weight_model(make_optimizer())
    editor = _EditFile(tmp_path / CONTROL_FILENAME, {3: json.dumps({**initial, **edit})})
    recorder = KernelRecorder()
    _fit(model, 8, [editor, HyperparameterControl(tmp_path, check_every_n_batches=1), recorder])

    assert editor.initial_file == initial  # Written at the start with the current values.
    optimizer = model.optimizer
    for name, value in edit.items():
        assert float(ops.convert_to_numpy(getattr(optimizer, name))) == pytest.approx(value)
    # Updates 0-2 used the initial values, 3-7 the edited ones: the retrace took effect.
    expected = reference(lambda n: initial if n < 3 else {**initial, **edit}, 8)
    np.testing.assert_allclose(recorder.kernels, expected, rtol=1e-5, atol=1e-6)
    records = _changes(tmp_path)
    assert {(r["name"], r["new"], r["step"], r["status"]) for r in records} == {
        (name, value, 3, "applied") for name, value in edit.items()
    }


def test_scheduled_learning_rate_is_changed_through_a_multiplier(tmp_path):
    schedule = InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = one_weight_model(SGD(schedule))
    edit = json.dumps({"learning_rate_multiplier": 0.5, "momentum": 0.0})
    editor = _EditFile(tmp_path / CONTROL_FILENAME, {3: edit})
    recorder = KernelRecorder()
    _fit(model, 6, [editor, HyperparameterControl(tmp_path, check_every_n_batches=1), recorder])

    assert editor.initial_file == {"learning_rate_multiplier": 1.0, "momentum": 0.0}
    rates = [0.1 / (1 + 0.5 * n) * (1.0 if n < 3 else 0.5) for n in range(6)]
    np.testing.assert_allclose(-np.diff(recorder.kernels), rates, rtol=1e-5)
    assert isinstance(learning_rate_object(model.optimizer), ScaledSchedule)
    assert learning_rate_object(model.optimizer).schedule is schedule

    # The multiplier is part of the saved optimizer.
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras").optimizer
    assert float(learning_rate_object(loaded).multiplier) == 0.5
    assert float(loaded.learning_rate) == pytest.approx(0.5 * 0.1 / (1 + 0.5 * 6))


def test_only_edited_keys_are_applied(tmp_path):
    """A value changed elsewhere (e.g. by plateau reduction) is not reset by an unrelated edit."""

    class LowerMultiplier(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                learning_rate_object(self.model.optimizer).multiplier.assign(0.3)

    model = one_weight_model(SGD(InverseTimeDecay(0.1, 1, 0.0), momentum=0.5))
    edit = json.dumps({"learning_rate_multiplier": 1.0, "momentum": 0.7})
    callbacks = [
        LowerMultiplier(),
        _EditFile(tmp_path / CONTROL_FILENAME, {2: edit}),
        HyperparameterControl(tmp_path, check_every_n_batches=1),
    ]
    _fit(model, 4, callbacks)
    assert float(learning_rate_object(model.optimizer).multiplier) == pytest.approx(0.3)
    assert model.optimizer.momentum == 0.7


BAD_EDITS = {
    "negative_lr": ('{"learning_rate": -0.1}', r"`learning_rate` must be >= 0"),
    "infinite_lr": ('{"learning_rate": Infinity}', r"`learning_rate` must be a finite number"),
    "nan_lr": ('{"learning_rate": NaN}', r"`learning_rate` must be a finite number"),
    "text_lr": ('{"learning_rate": "fast"}', r"`learning_rate` must be a number"),
    "momentum_too_big": ('{"momentum": 1.5}', r"`momentum` must be in \[0, 1\)"),
    "unknown_key": ('{"momentun": 0.8}', r"Unknown key `momentun`.*'learning_rate', 'momentum'"),
    "malformed_json": ('{"learning_rate": 0.05', r"cannot read .*hyperparameters.json"),
    "not_an_object": ("[0.05]", r"expected a JSON object, got list"),
}


@pytest.mark.parametrize("case", BAD_EDITS)
def test_bad_edit_is_reported_and_ignored_and_training_goes_on(case, tmp_path):
    text, message = BAD_EDITS[case]
    model = one_weight_model(SGD(0.1, momentum=0.5))
    good_edit = json.dumps({"learning_rate": 0.05, "momentum": 0.5})
    editor = _EditFile(tmp_path / CONTROL_FILENAME, {2: text, 4: good_edit})
    recorder = KernelRecorder()
    with pytest.warns(UserWarning, match=message):
        history = _fit(model, 6, [editor, HyperparameterControl(tmp_path, 1), recorder])

    assert len(history.history["loss"]) == 1
    assert int(model.optimizer.iterations) == 6
    # The bad edit changed nothing; the later good one still applies.
    expected = sgd_kernels(lambda n: {"learning_rate": 0.1 if n < 4 else 0.05, "momentum": 0.5}, 6)
    np.testing.assert_allclose(recorder.kernels, expected, rtol=1e-5, atol=1e-6)
    statuses = [(r["step"], r["status"]) for r in _changes(tmp_path)]
    assert statuses == [(2, "rejected"), (4, "applied")]


def test_momentum_cannot_be_switched_on_when_the_run_started_without(tmp_path):
    model = one_weight_model(SGD(0.1))
    editor = _EditFile(tmp_path / CONTROL_FILENAME, {1: json.dumps({"momentum": 0.9})})
    with pytest.warns(UserWarning, match=r"`momentum` cannot be switched on"):
        _fit(model, 3, [editor, HyperparameterControl(tmp_path, 1)])
    assert model.optimizer.momentum == 0.0
    assert int(model.optimizer.iterations) == 3


def test_learning_rate_key_for_a_schedule_points_to_the_multiplier(tmp_path):
    model = one_weight_model(SGD(InverseTimeDecay(0.1, 1, 0.5)))
    editor = _EditFile(tmp_path / CONTROL_FILENAME, {1: json.dumps({"learning_rate": 0.01})})
    with pytest.warns(UserWarning, match=r"comes from a schedule: change `learning_rate_multipl"):
        _fit(model, 2, [editor, HyperparameterControl(tmp_path, 1)])
    assert float(learning_rate_object(model.optimizer).multiplier) == 1.0


def test_checks_at_epoch_end_only_when_asked(tmp_path):
    model = one_weight_model(SGD(0.1))
    editor = _EditFile(tmp_path / CONTROL_FILENAME, {1: json.dumps({"learning_rate": 0.05})})
    recorder = KernelRecorder()
    control = HyperparameterControl(tmp_path, check_every_n_batches=None, verbose=0)
    _fit(model, 6, [editor, control, recorder], steps_per_epoch=3)
    # Edited after update 1, read at the end of the first epoch (after update 3).
    np.testing.assert_allclose(
        -np.diff(recorder.kernels), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05], rtol=1e-5
    )
    assert _changes(tmp_path)[0]["step"] == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"log_dir": 5}, r"`log_dir` must be a directory path. Received: log_dir=5"),
        ({"log_dir": "logs", "check_every_n_batches": 0}, r"`check_every_n_batches` must be an"),
        ({"log_dir": "logs", "verbose": 2}, r"`verbose` must be one of 0, 1. Received: verbose=2"),
    ],
)
def test_control_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HyperparameterControl(**kwargs)


class _FakeMetric(keras.callbacks.Callback):
    """Writes a scripted value into the epoch logs, for the callbacks after it."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["fake_loss"] = self.values[epoch]


class _LearningRatePerEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(float(ops.convert_to_numpy(self.model.optimizer.learning_rate)))


# Improves, stalls (0.995 is within min_delta of 1.0), improves, then stalls for good.
FAKE_LOSS = [1.0, 0.995, 0.99, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
PLATEAU = dict(monitor="fake_loss", factor=0.5, patience=2, min_delta=0.01, min_lr=0.02)
# By hand, no cooldown: waits 0,1,2 -> cut at epoch 2; best 0.5 at 3; waits 1,2 -> cut at 5;
# waits 1,2 -> cut at 7 to the floor 0.02; then no cut below the floor.
RATES_WITHOUT_COOLDOWN = [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02]
# cooldown=1: the epoch after each cut is skipped, so the cuts come at epochs 2, 5 and 8.
RATES_WITH_COOLDOWN = [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02]


def _rates_per_epoch(plateau_callback, values=FAKE_LOSS):
    model = one_weight_model(SGD(0.1))
    recorder = _LearningRatePerEpoch()
    _fit(model, 12, [_FakeMetric(values), plateau_callback, recorder], steps_per_epoch=1)
    return recorder.rates


def test_plateau_reduction_on_a_number_learning_rate_matches_keras():
    ours = _rates_per_epoch(ReduceLROnPlateau(**PLATEAU))
    theirs = _rates_per_epoch(keras.callbacks.ReduceLROnPlateau(mode="min", **PLATEAU))
    np.testing.assert_allclose(ours, RATES_WITHOUT_COOLDOWN, rtol=1e-6)
    np.testing.assert_allclose(theirs, RATES_WITHOUT_COOLDOWN, rtol=1e-6)


def test_plateau_mode_max_mirrors_mode_min():
    rising = [-value for value in FAKE_LOSS]  # An accuracy-like metric that stalls.
    rates = _rates_per_epoch(ReduceLROnPlateau(**PLATEAU | {"mode": "max"}), rising)
    np.testing.assert_allclose(rates, RATES_WITHOUT_COOLDOWN, rtol=1e-6)


def test_plateau_cooldown_skips_that_many_epochs():
    rates = _rates_per_epoch(ReduceLROnPlateau(**PLATEAU, cooldown=1))
    np.testing.assert_allclose(rates, RATES_WITH_COOLDOWN, rtol=1e-6)


def test_plateau_reduction_scales_a_warmup_schedule(tmp_path):
    # Warm-up over 4 steps to 0.1, then constant; 2 steps per epoch.
    model = one_weight_model(SGD(Warmup(0.1, warmup_steps=4)))
    recorder = KernelRecorder()
    callbacks = [
        _FakeMetric(FAKE_LOSS),
        ReduceLROnPlateau(**PLATEAU, cooldown=1, log_dir=tmp_path),
        recorder,
    ]
    _fit(model, 24, callbacks, steps_per_epoch=2)

    scaled = learning_rate_object(model.optimizer)
    assert isinstance(scaled, ScaledSchedule)
    # The multiplier is the ratio of the hand-computed rates; it acts from the next epoch.
    multiplier_per_epoch = np.array([0.1] + RATES_WITH_COOLDOWN[:-1]) / 0.1
    warmup = np.minimum(np.arange(24) / 4, 1.0) * 0.1
    expected = warmup * np.repeat(multiplier_per_epoch, 2)
    np.testing.assert_allclose(-np.diff(recorder.kernels), expected, rtol=1e-5, atol=1e-7)
    assert float(scaled.multiplier) == pytest.approx(0.2)
    records = _changes(tmp_path)
    assert [(r["epoch"], r["step"]) for r in records] == [(2, 6), (5, 12), (8, 18)]
    assert [r["new"] for r in records] == pytest.approx([0.05, 0.025, 0.02])


def test_plateau_reduction_reaches_through_a_loss_scale_optimizer():
    inner = SGD(Warmup(0.1, warmup_steps=2))
    model = one_weight_model(keras.optimizers.LossScaleOptimizer(inner))
    plateau = ReduceLROnPlateau(monitor="fake_loss", factor=0.5, patience=1)
    _fit(model, 4, [_FakeMetric([1.0, 1.0]), plateau], steps_per_epoch=2)
    assert float(learning_rate_object(inner).multiplier) == 0.5
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_plateau_min_lr_bounds_the_current_scheduled_rate():
    # During warm-up the current rate is small: a cut may not push it below min_lr.
    model = one_weight_model(SGD(Warmup(1.0, warmup_steps=100)))
    fake = _FakeMetric([1.0, 1.0, 1.0])
    plateau = ReduceLROnPlateau(monitor="fake_loss", factor=0.1, patience=1, min_lr=0.015)
    _fit(model, 6, [fake, plateau], steps_per_epoch=2)
    # After epoch 1 (4 steps): warm-up rate 0.04 -> max(0.004, 0.015) = 0.015, multiplier 0.375.
    # After epoch 2: rate 0.375 * 0.06 = 0.0225 -> 0.015, multiplier 0.25.
    assert float(learning_rate_object(model.optimizer).multiplier) == pytest.approx(0.25)


def test_plateau_warns_when_the_monitored_value_is_missing():
    model = one_weight_model(SGD(0.1))
    with pytest.warns(UserWarning, match=r"monitors `val_loss`, which is not in the logs"):
        _fit(model, 2, [ReduceLROnPlateau(patience=0)])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"factor": 1.0}, r"`factor` must be in \(0, 1\). Received: factor=1.0"),
        ({"factor": 0.0}, r"`factor` must be > 0"),
        ({"patience": -1}, r"`patience` must be an integer >= 0"),
        ({"cooldown": 1.5}, r"`cooldown` must be an integer >= 0"),
        ({"mode": "auto"}, r"`mode` must be one of 'min', 'max'. Received: mode='auto'"),
        ({"min_lr": -1e-3}, r"`min_lr` must be >= 0"),
        ({"min_delta": -0.1}, r"`min_delta` must be >= 0"),
        ({"monitor": ""}, r"`monitor` must be a non-empty string"),
        ({"log_dir": 3}, r"`log_dir` must be a directory path"),
    ],
)
def test_plateau_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReduceLROnPlateau(**kwargs)
