"""The callbacks under tf.distribute.MirroredStrategy (two logical CPU devices) and under
mixed_float16 with LossScaleOptimizer log what they log on the default strategy.

TensorFlow fixes its logical devices when it first initializes them, so the runs happen in one
child process (this file run as a script), which writes every logged scalar to a JSON file.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")

STRATEGIES = ("default", "mirrored", "mixed_float16")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    directory = tmp_path_factory.mktemp("distributed")
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, __file__, str(directory)], env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(directory / "logged.json") as file:
        return json.load(file)


def test_mirrored_runs_log_the_default_strategys_values(logged):
    default, mirrored = logged["default"], logged["mirrored"]
    assert sorted(mirrored) == sorted(default)
    assert len(default) > 40  # every callback's tags, and metrics.jsonl's columns
    epoch_curves = {"epoch_loss", "epoch_learning_rate", "validation/epoch_loss", "validation/evaluation_loss_vs_iterations"}
    assert epoch_curves <= set(default)  # EpochSummaries, train and validation
    for tag, steps in default.items():
        assert sorted(mirrored[tag]) == sorted(steps), tag
        for step, value in steps.items():
            assert mirrored[tag][step] == pytest.approx(value, rel=1e-5, abs=1e-7), (tag, step)


def test_mixed_precision_logs_the_same_tags_to_float16_precision(logged):
    default, mixed = logged["default"], logged["mixed_float16"]
    assert sorted(mixed) == sorted(default)
    for tag in ("optimizer/learning_rate", "metrics.jsonl/step", "metrics.jsonl/learning_rate"):
        assert mixed[tag] == default[tag]  # exact: no float16 in these
    for step, value in default["gradients/global_norm"].items():
        assert mixed["gradients/global_norm"][step] == pytest.approx(value, rel=2e-2)


def test_mirrored_rollback_restores_every_replica(logged):
    rollback = logged["rollback"]
    assert rollback["rollbacks"] == 1
    assert rollback["replicas"] == 2
    # Right after the rollback, both replicas of every weight hold the snapshot's values.
    assert rollback["largest_difference_from_snapshot"] == 0.0


def _child(directory):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.callback_backends import run_one

    logged = {}
    for strategy in STRATEGIES:
        run_directory = os.path.join(directory, strategy)
        config = "tensorflow" if strategy == "default" else strategy
        run_one(config, run_directory, set_devices=False)
        with open(os.path.join(run_directory, "values.json")) as file:
            logged[strategy] = json.load(file)
        keras.mixed_precision.set_global_policy("float32")
    logged["rollback"] = _mirrored_rollback(os.path.join(directory, "rollback"))
    with open(os.path.join(directory, "logged.json"), "w") as file:
        json.dump(logged, file)


def _mirrored_rollback(directory):
    import tensorflow as tf

    from callbacks import DivergenceGuard

    class ReplicaCheck(keras.callbacks.Callback):
        """After the guard (later in the list): each replica against the weights at the restored step."""

        def __init__(self, guard):
            super().__init__()
            self.guard, self.seen, self.before, self.difference, self.replicas = guard, 0, {}, None, 0

        def on_train_batch_begin(self, batch, logs=None):
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.before[step] = [v.numpy().copy() for v in self.model.trainable_variables]

        def on_train_batch_end(self, batch, logs=None):
            if len(self.guard.rollbacks) == self.seen:
                return
            self.seen = len(self.guard.rollbacks)
            snapshot = self.before[self.guard.rollbacks[-1]["restored_step"]]
            differences = []
            for variable, expected in zip(self.model.trainable_variables, snapshot):
                components = variable.value.values
                self.replicas = len(components)
                differences += [float(np.max(np.abs(c.numpy() - expected))) for c in components]
            self.difference = max(differences)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(3.0), loss="mse")
    guard = DivergenceGuard(directory, rollback=True, snapshot_every_n_steps=1, max_rollbacks=1, max_loss_ratio=10.0)
    check = ReplicaCheck(guard)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[guard, check])
    return {"rollbacks": len(guard.rollbacks), "replicas": check.replicas, "largest_difference_from_snapshot": check.difference}


if __name__ == "__main__":
    _child(sys.argv[1])
