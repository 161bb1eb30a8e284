"""The runner's own loop (experiments/engine/epoch_loop.py) gives Keras's `fit` numbers bit for bit:
every metric, history value and callback output, for each optimizer, with batch normalization,
with schedules, fixed orders, shorter last groups of steps, XLA, after divergence. Its callbacks
see the calls `fit` makes; one trace of a model's steps serves all its runs; the orders kept
per process are those drawn afresh."""

import re

import keras
import numpy as np
import pytest

from experiments.config.settings import resolve
from experiments.data import datasets, shuffling
from experiments.engine import epoch_loop, training
from tests.test_run_cache import CASES, TINY, assert_same_outputs, numbers_of

LOOP_CASES = {
    **{name: CASES[name] for name in ("sgd_nesterov", "rmsprop_centered", "adam_amsgrad", "batch_norm", "schedule",
                                      "piecewise_warmup")},  # fmt: skip
    "once": {"optimizer": "adam", "learning_rate": 0.003, "shuffle": "once"},
    "sorted": {"optimizer": "sgd", "learning_rate": 0.05, "shuffle": "sorted", "steps_per_execution": 1,
               "log_every_steps": 1, "stats_every_steps": 1},  # fmt: skip
    "shorter_last_group": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.5, "steps_per_execution": 3,
                           "log_every_steps": 3, "stats_every_steps": 3, "epochs": 3},  # fmt: skip
    "xla": {"optimizer": "adam", "learning_rate": 0.003, "jit_compile": True},
    "diverged": {"optimizer": "sgd", "learning_rate": 1e4},
}


def _train(config, run_dir, own_loop, monkeypatch):
    monkeypatch.setattr(training, "OWN_LOOP", own_loop)
    monkeypatch.setattr(training, "COMPILED_MODELS", None)  # a fresh model for each
    return training.train_run(config, str(run_dir))


@pytest.mark.parametrize("case", list(LOOP_CASES))
def test_the_loop_gives_fits_numbers(case, tmp_path, monkeypatch):
    config = resolve({**TINY, "record_steps": 5, "seed": 3, **LOOP_CASES[case]})
    ours = _train(config, tmp_path / "ours", True, monkeypatch)
    fit = _train(config, tmp_path / "fit", False, monkeypatch)
    assert ours["status"] == ("diverged" if case == "diverged" else "ok")
    assert ours["epochs_completed"] == (1 if case == "diverged" else config["epochs"])
    if case == "diverged":  # the guard names the batch that ran, in both: step s of epoch 0 is batch s - 1
        step, batch = map(int, re.search(r"step (\d+) \(epoch 0, batch (\d+)\)", ours["reason"]).groups())
        assert batch == step - 1 and step <= 6  # 180 examples in batches of 32: 6 steps per epoch
    assert numbers_of(ours) == numbers_of(fit)
    assert_same_outputs(tmp_path / "ours", tmp_path / "fit")


class Recorder(keras.callbacks.Callback):
    """Every hook call: (hook, batch or epoch, the logs' values); stops training after
    `stop_at` (epoch, batch) if given."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.calls, self.stop_at, self._epoch = [], stop_at, None

    def _record(self, hook, index=None, logs=None):
        values = {k: float(v) for k, v in (logs or {}).items()}
        self.calls.append((hook, index, values))

    def on_train_begin(self, logs=None):
        self._record("train_begin", None, logs)
        self.calls.append(("params", self.params.get("epochs"), {"steps": self.params.get("steps")}))

    def on_train_end(self, logs=None):
        self._record("train_end", None, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._record("epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("batch_end", batch, logs)
        if self.stop_at == (self._epoch, batch):
            self.model.stop_training = True


def _model(steps_per_execution):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)  # fmt: skip
    return model


def _small_dataset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(29, 4)).astype(np.float32)
    return datasets.Dataset("small", x, (x[:, 0] > 0).astype(np.int32), x[:4], np.zeros(4, np.int32), 3)


@pytest.mark.parametrize("stop_at", [None, (1, 5)], ids=["whole run", "stopped in epoch 1"])
def test_callbacks_see_the_calls_fit_makes(stop_at):
    import tensorflow as tf

    dataset, batch_size, epochs = _small_dataset(), 4, 3  # 8 steps per epoch: groups of 3, 3, 2
    calls = {}
    for path in ("ours", "fit"):
        model, recorder = _model(steps_per_execution=3), Recorder(stop_at)
        # As the runner: built before training, so that fit reads no batch to build them.
        epoch_loop.build_training_state(model, dataset.x_train[:2], dataset.y_train[:2])
        tf.random.set_seed(7)  # the pipeline's orders derive from the global seed and its own
        if path == "ours":
            x, y = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
            orders = epoch_loop.epoch_orders(dataset, seed=2, shuffle="each_epoch", epochs=epochs)
            history = epoch_loop.fit(model, x, y, orders, batch_size, epochs, [recorder])
        else:
            batches = training.training_batches(dataset, batch_size, seed=2)
            history = model.fit(batches, epochs=epochs, callbacks=[recorder], verbose=0, shuffle=False)
        calls[path] = (recorder.calls, history.history)
    (ours, our_history), (fit, fit_history) = calls["ours"], calls["fit"]
    assert our_history == fit_history
    # Keras reports the end of a shorter last group as first + steps_per_execution - 1 (step
    # 8 of 8 as batch 8); ours names the last step that ran.
    reported_by_fit = [(hook, min(index, 7) if hook == "batch_end" else index, logs) for hook, index, logs in fit]
    assert ours == reported_by_fit
    batch_ends = [index for hook, index, _ in ours if hook == "batch_end"]
    assert batch_ends[:3] == [2, 5, 7]
    assert ours[-1][0] == "train_end"
    if stop_at:
        assert [hook for hook, *_ in ours].count("epoch_end") == 2 and batch_ends[-1] == 5


class MomentumEdit(keras.callbacks.Callback):
    """Changes Keras's SGD momentum, a constant of the traced step, after `at_batch` of epoch 0,
    and retraces the train function as HyperparameterControl does."""

    def __init__(self, at_batch, retrace=True):
        super().__init__()
        self.at_batch, self.retrace, self._epoch = at_batch, retrace, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (0, self.at_batch):
            self.model.optimizer.momentum = 0.1
            if self.retrace:
                self.model.make_train_function(force=True)


def test_a_retraced_train_function_takes_effect_at_the_next_call():
    import tensorflow as tf

    dataset, histories = _small_dataset(), {}
    for path in ("ours", "fit", "ours, no retrace"):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy",
                      steps_per_execution=2)  # fmt: skip
        epoch_loop.build_training_state(model, dataset.x_train[:2], dataset.y_train[:2])
        edit = MomentumEdit(at_batch=1, retrace=path != "ours, no retrace")
        tf.random.set_seed(7)
        if path == "fit":
            batches = training.training_batches(dataset, 4, seed=2)
            history = model.fit(batches, epochs=2, callbacks=[edit], verbose=0, shuffle=False)
        else:
            x, y = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
            orders = epoch_loop.epoch_orders(dataset, seed=2, shuffle="each_epoch", epochs=2)
            history = epoch_loop.fit(model, x, y, orders, 4, 2, [edit])
        histories[path] = history.history["loss"]
    assert histories["ours"] == histories["fit"]
    assert histories["ours"] != histories["ours, no retrace"]  # the edit changed the steps


def test_one_trace_of_a_models_steps_serves_every_run(tmp_path, monkeypatch):
    from experiments.engine import compiled_models

    monkeypatch.setattr(training, "COMPILED_MODELS", compiled_models.CompiledModels())
    settings = {**TINY, "optimizer": "sgd", "learning_rate": 0.05}
    runs = [{"seed": 1}, {"seed": 2, "batch_size": 16}, {"seed": 3, "shuffle": "sorted", "epochs": 1}]
    models = set()
    for i, run in enumerate(runs):
        record = training.train_run(resolve({**settings, **run}), str(tmp_path / str(i)))
        assert record["reused_compiled_model"] is (i > 0)
        (entry,) = training.COMPILED_MODELS.held()
        models.add(id(entry.model))
    (model,) = [entry.model for entry in training.COMPILED_MODELS.held()]
    assert len(models) == 1
    assert epoch_loop.compiled_steps(model).experimental_get_tracing_count() == 1


def test_a_new_compilation_gets_new_steps():
    import tensorflow as tf

    dataset = _small_dataset()
    x, y = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
    orders = epoch_loop.epoch_orders(dataset, seed=0, shuffle="once", epochs=1)
    model = _model(steps_per_execution=2)
    first = epoch_loop.compiled_steps(model)
    assert epoch_loop.compiled_steps(model) is first
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy", steps_per_execution=2)
    assert epoch_loop.compiled_steps(model) is not first
    before = [w.numpy() for w in model.trainable_weights]
    epoch_loop.fit(model, x, y, orders, batch_size=4, epochs=1)
    assert int(model.optimizer.iterations.numpy()) == 8  # the new optimizer took the steps
    for weight, start in zip(model.trainable_weights, before):
        np.testing.assert_array_equal(weight.numpy(), start)  # at learning rate 0


def test_kept_orders_are_those_drawn_afresh(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(shuffling, "KEPT_ORDERS", {})
    # Room for five orders of 40 examples: drawing more drops the least recently used seeds'.
    monkeypatch.setattr(shuffling, "KEPT_ORDERS_BYTES", 5 * 40 * 8)
    tf.random.set_seed(3)
    kept = {seed: [order.numpy() for order in shuffling.shuffled_orders(40, seed, 2)] for seed in (1, 2, 3)}
    assert len(shuffling.KEPT_ORDERS) == 2  # seed 1's were dropped
    assert not np.array_equal(kept[1][0], kept[1][1])  # reshuffled each epoch
    assert sorted(kept[1][1].tolist()) == list(range(40))
    tf.random.set_seed(3)
    longer = shuffling.shuffled_orders(40, 2, 3)  # more epochs than kept: drawn again
    assert len(longer) == 3 and len(shuffling.shuffled_orders(40, 2, 1)) == 3
    for seed, orders in kept.items():
        monkeypatch.setattr(shuffling, "KEPT_ORDERS", {})
        tf.random.set_seed(3)
        for kept_order, fresh in zip(orders, shuffling.shuffled_orders(40, seed, 2)):
            np.testing.assert_array_equal(kept_order, fresh.numpy())
        tf.random.set_seed(3)
        np.testing.assert_array_equal(shuffling.shuffled_orders(40, seed, 3)[1].numpy(), orders[1])
