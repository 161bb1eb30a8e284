"""A user's own model builder and data loader (--model / --data package.module:function, or the
same keys in an experiment file): a correct pair runs end to end through the command line, and
each broken one exits 2 with one line naming the problem before anything trains."""

import json
import os
import textwrap

import pytest

from experiments import cli, spec
from experiments.data import datasets

USER_MODULE = '''
import keras
import numpy as np

def build(input_shape, num_classes, config):
    # A user's model: sees each example in its own shape (here 2 x 3).
    assert input_shape == (2, 3), input_shape
    inputs = keras.Input(shape=input_shape)
    hidden = keras.layers.Dense(config["width"], activation="relu")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(hidden))

def load():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.normal(size=(90, 2, 3)) + y[:, None, None]
    return (x[:60], y[:60]), (x[60:], y[60:].reshape(-1, 1))

def logits(input_shape, num_classes, config):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)))

def wrong_classes(input_shape, num_classes, config):
    inputs = keras.Input(shape=input_shape)
    outputs = keras.layers.Dense(num_classes + 1, activation="softmax")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)

def not_a_model(input_shape, num_classes, config):
    return "a model"

def raises(input_shape, num_classes, config):
    raise RuntimeError("width too small")

def flat_only(input_shape, num_classes, config):
    inputs = keras.Input(shape=(6,))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(inputs))

def one_array():
    return np.zeros((10, 3))

def float_labels():
    (x, y), (xv, yv) = load()
    return (x, y.astype(float)), (xv, yv)

def lengths_differ():
    (x, y), (xv, yv) = load()
    return (x, y[:-1]), (xv, yv)

def shapes_differ():
    (x, y), (xv, yv) = load()
    return (x, y), (xv.reshape(30, 6), yv)

def with_nan():
    (x, y), (xv, yv) = load()
    x = x.copy(); x[0, 0, 0] = np.nan
    return (x, y), (xv, yv)

NOT_CALLABLE = 3
'''

TINY_SPEC = '''
description = "tiny"
question = "does a user's model run?"
seeds = 1
[fixed]
epochs = 2
batch_size = 16
[vary]
learning_rate = [0.01]
'''


@pytest.fixture
def user(tmp_path, monkeypatch):
    """The user's module on the path (named for this test: a module is imported once per process)."""
    name = f"user_plugins_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.toml").write_text(TINY_SPEC)
    return name, str(specs), tmp_path / "logs"


def test_a_users_model_and_data_run_end_to_end(user, capsys):
    name, specs, logs = user
    argv = ["tiny", "--specs-dir", specs, "--logdir", str(logs), "--model", f"{name}:build", "--data", f"{name}:load"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    run_dir = logs / "load" / "tiny" / "lr=0.01_seed0"  # <logdir>/<data set>/<experiment>
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "ok" and record["dataset"] == "load"
    # The sources are in the run's resolved config.
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["model"], config["dataset"]) == (f"{name}:build", f"{name}:load")
    assert record["metrics"]["val_accuracy"] > 0.6  # three well separated classes: it learned
    assert (logs / "load" / "tiny" / "report.md").exists() and not (logs / "tiny").exists()


def test_the_same_keys_in_an_experiment_file(user):
    name, _, _ = user
    raw = {"description": "d", "question": "q", "model": f"{name}:build", "data": f"{name}:load",
           "fixed": {"epochs": 1}}
    experiment = spec.parse("tiny", raw)
    assert experiment.fixed == {"epochs": 1, "model": f"{name}:build", "dataset": f"{name}:load"}
    with pytest.raises(spec.SpecError, match=r"`model` and \[fixed\] model both given"):
        spec.parse("tiny", {**raw, "fixed": {"model": "cnn"}})


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--model", "no_such_package.models:build"],
         "model 'no_such_package.models:build': module 'no_such_package.models' not found"),
        (["--model", "{m}:missing"], "model '{m}:missing': module '{m}' has no attribute 'missing'"),
        (["--model", "{m}:NOT_CALLABLE"], "model '{m}:NOT_CALLABLE': 'NOT_CALLABLE' is not callable (int)"),
        (["--model", "{m}:not_a_model"], "it returned str, not a keras.Model"),
        (["--model", "{m}:raises"], "calling it raised RuntimeError: width too small"),
        (["--model", "{m}:wrong_classes"], "the model's output has shape (2, 11); expected (2, 10)"),
        (["--model", "{m}:logits"], "the outputs are not probabilities summing to 1; end the model in a softmax"),
        (["--model", "{m}:flat_only"], "calling the model on a batch of shape (2, *input_shape) raised"),
        (["--model", "not a reference"], "model must be one of 'mlp', 'cnn' or package.module:function"),
        (["--data", "{m}:one_array"], "dataset '{m}:one_array': it returned ndarray of shape (10, 3); expected"),
        (["--data", "{m}:float_labels"], "y_train must hold class indices 0, 1, ... (integers); got dtype float64"),
        (["--data", "{m}:lengths_differ"], "x_train has shape (60, 2, 3) and y_train (59,)"),
        (["--data", "{m}:shapes_differ"], "training examples have shape (2, 3) but validation examples (6,)"),
        (["--data", "{m}:with_nan"], "x_train must hold finite numbers"),
        (["--data", "mnist1d"], "--data must be package.module:function; got 'mnist1d'"),
        (["--data", "{m}:load", "--dataset", "digits"], "give --dataset or --data, not both"),
    ],
)
def test_a_broken_plugin_exits_2_with_one_line(user, capsys, flags, message):
    name, specs, logs = user
    flags = [f.format(m=name) for f in flags]
    assert cli.main(["tiny", "--specs-dir", specs, "--logdir", str(logs), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("run.py: error: ")
    assert message.format(m=name) in err
    assert not any(logs.rglob("record.json"))  # nothing trained


def test_a_broken_builder_in_an_experiment_file_fails_at_parse_time_too(user, capsys):
    name, specs, logs = user
    with open(f"{specs}/tiny.toml", "w") as f:
        f.write(textwrap.dedent(f'model = "{name}:wrong_classes"\n') + TINY_SPEC)
    assert cli.main(["tiny", "--specs-dir", specs, "--logdir", str(logs), "--dry-run"]) == 2
    assert "expected (2, 10)" in capsys.readouterr().err  # digits: 10 classes


def test_loader_data_is_scaled_like_any_data_set(user):
    name, _, _ = user
    raw = datasets.load_dataset(f"{name}:load", "raw")
    assert raw.input_shape == (2, 3) and raw.num_features == 6 and raw.num_classes == 3
    assert (len(raw.x_train), len(raw.x_val), raw.name) == (60, 30, "load")
    standard = datasets.load_dataset(f"{name}:load", "standardize")
    assert abs(standard.x_train.mean(axis=0)).max() < 1e-5


@pytest.mark.parametrize("option", ["--model", "--data"])
def test_a_missing_module_is_one_line_on_stderr_without_tensorflows_notices(option):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, os.path.join(root, "experiments", "run.py"), "learning_rate", option, "no_such_module:build"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and "no_such_module" in result.stderr
