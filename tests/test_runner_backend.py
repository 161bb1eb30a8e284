"""The runner on the JAX and PyTorch backends: chosen by the `backend` setting or KERAS_BACKEND,
recorded in each run's record, numpy batches into the step, the same numbers for the same seed,
and a reused compiled model equal to a fresh one there too.

Our callbacks do not run on JAX and torch yet: these runs leave
them out, so the check is of the runner, the data pipeline and the model cache."""

import json
import os
import subprocess
import sys

import keras
import pytest

from experiments import cli
from experiments.config.settings import resolve
from experiments.engine import training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = """
import json, sys, tempfile
from experiments.engine import compiled_models, training
from experiments.config.settings import resolve
training.make_callbacks = lambda *args: []  # see the module docstring
settings = {"epochs": 2, "limit": 200, "width": 8, "optimizer": "adam", "learning_rate": 0.01, "backend": sys.argv[1]}
with tempfile.TemporaryDirectory() as d:
    training.COMPILED_MODELS = compiled_models.CompiledModels()
    training.train_run(resolve({**settings, "seed": 1, "learning_rate": 0.03}), d + "/warm")
    reused = training.train_run(resolve({**settings, "seed": 2}), d + "/reused")
    training.COMPILED_MODELS = None
    fresh = training.train_run(resolve({**settings, "seed": 2}), d + "/fresh")
    other_seed = training.train_run(resolve({**settings, "seed": 3}), d + "/other")
print(json.dumps({"reused": reused, "fresh": fresh, "other_seed": other_seed}))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_runs_on_the_backend_asked_for(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO}
    out = subprocess.run([sys.executable, "-c", SCRIPT, backend], check=True, capture_output=True, text=True,
                         env=env, cwd=REPO).stdout  # fmt: skip
    runs = json.loads(out.strip().splitlines()[-1])
    assert {r["versions"]["backend"] for r in runs.values()} == {backend}
    assert all(r["status"] == "ok" and r["epochs_completed"] == 2 for r in runs.values())
    assert runs["reused"]["reused_compiled_model"] and not runs["fresh"]["reused_compiled_model"]
    assert runs["reused"]["history"] == runs["fresh"]["history"]
    assert runs["other_seed"]["history"] != runs["fresh"]["history"]
    assert runs["fresh"]["metrics"]["val_accuracy"] > 0.3  # 10 classes: chance is 0.1


def test_keras_backend_variable_is_the_default_backend(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    _, overrides, _ = cli.parse(["learning_rate", "--dry-run"])
    assert overrides["backend"] == "jax"
    _, overrides, _ = cli.parse(["learning_rate", "--dry-run", "--set", "backend=torch"])
    assert overrides["backend"] == "torch"


def test_bad_backend_is_refused_in_one_line(monkeypatch, capsys):
    assert cli.main(["learning_rate", "--dry-run", "--set", "backend=mxnet"]) == 2
    assert "backend must be one of 'tensorflow', 'jax', 'torch'; got 'mxnet'" in capsys.readouterr().err
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    assert cli.main(["learning_rate", "--dry-run"]) == 2
    assert "KERAS_BACKEND" in capsys.readouterr().err


def test_a_run_for_another_backend_than_the_process_runs_fails_clearly(tmp_path):
    running = keras.backend.backend()  # whatever KERAS_BACKEND the tests run under
    other = "jax" if running != "jax" else "torch"
    with pytest.raises(RuntimeError, match=f"backend='{other}' asked for, but this process runs Keras on '{running}'"):
        training.train_run(resolve({"backend": other, "epochs": 1, "limit": 40}), str(tmp_path))
