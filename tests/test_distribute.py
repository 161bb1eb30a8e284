"""One run over several devices: `distribute=mirrored` on two logical CPU devices (a fresh
process: logical devices must be configured before TensorFlow starts)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from experiments.config.settings import SettingError, resolve

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    from experiments.engine.quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from experiments.config.settings import resolve
    from experiments.engine.training import train_run
    with_callbacks = sys.argv[1] == "with-callbacks"
    records = {}
    for distribute in sys.argv[2:]:
        config = resolve({"optimizer": "sgd", "learning_rate": 0.1, "epochs": 2, "limit": 200, "width": 8,
                          "seed": 3, "steps_per_execution": 1, "distribute": distribute})
        with tempfile.TemporaryDirectory() as run_dir:
            record = train_run(config, run_dir, callbacks=None if with_callbacks else (lambda *args: []))
        records[distribute] = {key: record[key] for key in ("status", "replicas", "history", "metrics")}
    print(json.dumps(records))
""")


def _train(with_callbacks, *distribute):
    argv = [sys.executable, "-c", SCRIPT, "with-callbacks" if with_callbacks else "without", *distribute]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _check_mirrored(records):
    single, mirrored = records["none"], records["mirrored"]
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert mirrored["status"] == "ok"
    # The global batch is the run's batch_size, split between the replicas: as many updates.
    assert mirrored["metrics"]["updates_per_epoch"] == single["metrics"]["updates_per_epoch"]
    assert mirrored["metrics"]["effective_batch_size"] == single["metrics"]["effective_batch_size"] == 32
    # Close, not bit-identical to one device (about 0.3% apart after two epochs here).
    assert mirrored["history"]["loss"] == pytest.approx(single["history"]["loss"], rel=0.02)
    assert mirrored["history"]["val_loss"][-1] < mirrored["history"]["val_loss"][0]


def test_mirrored_run_over_two_devices_without_the_logging_callbacks():
    _check_mirrored(_train(False, "none", "mirrored"))


def test_mirrored_run_over_two_devices_with_the_logging_callbacks():
    record = _train(True, "mirrored")["mirrored"]
    assert (record["status"], record["replicas"]) == ("ok", 2)


def test_mirrored_asks_for_one_step_per_execution():
    with pytest.raises(SettingError, match="distribute=mirrored needs steps_per_execution=1"):
        resolve({"distribute": "mirrored"})
