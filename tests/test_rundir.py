"""The run-directory contract: strict JSON with null for non-finite numbers, old bare-NaN files
still read, "done" means a record with the same config, and install never exposes half a run."""

import json
import math
import os

import numpy as np
import pytest

from experiments.engine import run_directory
from experiments.outputs import files


def test_non_finite_numbers_are_written_as_null_and_the_file_is_strict_json(tmp_path):
    record = {"status": "diverged", "metrics": {"val_loss": math.nan, "train_loss": np.float32("inf"),
              "val_accuracy": np.float64(0.25), "updates": np.int64(3)}, "history": {"loss": [1.0, -math.inf]},
              "norms": np.array([1.5, np.nan])}  # fmt: skip
    run_directory.write_record(str(tmp_path), record)
    text = (tmp_path / run_directory.RECORD_FILE).read_text()

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    parsed = json.loads(text, parse_constant=refuse)  # a strict reader: NaN, Infinity rejected
    assert parsed == {"status": "diverged", "metrics": {"val_loss": None, "train_loss": None, "val_accuracy": 0.25,
                      "updates": 3}, "history": {"loss": [1.0, None]}, "norms": [1.5, None]}  # fmt: skip
    assert run_directory.read_record(str(tmp_path)) == parsed


def test_a_record_with_bare_nan_from_an_older_version_still_reads(tmp_path):
    (tmp_path / run_directory.RECORD_FILE).write_text('{"status": "diverged", "metrics": {"val_loss": NaN}, "config": {"seed": 0}}')
    record = run_directory.read_record(str(tmp_path))
    assert record["status"] == "diverged" and math.isnan(record["metrics"]["val_loss"])
    assert run_directory.is_done(str(tmp_path), {"seed": 0})


def test_done_means_a_record_with_the_same_config(tmp_path):
    run_dir = str(tmp_path / "run")
    run_directory.write_config(run_dir, {"seed": 1})
    assert not run_directory.is_done(run_dir, {"seed": 1})  # config but no record: interrupted
    run_directory.write_record(run_dir, {"status": "ok", "config": {"seed": 1}})
    assert run_directory.is_done(run_dir, {"seed": 1})
    assert not run_directory.is_done(run_dir, {"seed": 2})
    (tmp_path / "run" / run_directory.RECORD_FILE).write_text('{"status": "ok", "conf')  # truncated: not done
    assert not run_directory.is_done(run_dir, {"seed": 1})


def test_a_setting_added_since_the_record_counts_as_its_default(tmp_path):
    from experiments.config.settings import resolve

    config = resolve({"seed": 3})
    older = {k: v for k, v in config.items() if k != "chance_margin"}  # written before the setting existed
    run_directory.write_record(str(tmp_path), {"status": "ok", "config": older})
    assert run_directory.is_done(str(tmp_path), config)
    assert not run_directory.is_done(str(tmp_path), {**config, "chance_margin": 0.2})  # not the default: retrain


def _finished_run(run_dir):
    run_directory.write_config(run_dir, {"seed": 0})
    os.makedirs(os.path.join(run_dir, "train"))
    with open(os.path.join(run_dir, "train", "events.out.tfevents.1"), "wb") as f:
        f.write(b"\x00\x01binary")
    run_directory.write_record(run_dir, {"status": "ok", "config": {"seed": 0}})


def test_pack_and_install_reproduce_the_run_directory(tmp_path):
    source, target = str(tmp_path / "node" / "run"), str(tmp_path / "logs" / "exp" / "run")
    _finished_run(source)
    os.makedirs(target)
    (tmp_path / "logs" / "exp" / "run" / "stale.txt").write_text("left by an interrupted run")
    run_directory.install(run_directory.pack(source), target)
    assert run_directory.pack(target) == run_directory.pack(source)
    assert os.listdir(tmp_path / "logs" / "exp") == ["run"]  # no staging directory left
    assert run_directory.is_done(target, {"seed": 0})


def test_install_that_fails_leaves_no_run_and_no_staging(tmp_path):
    source = str(tmp_path / "node" / "run")
    _finished_run(source)
    contents = run_directory.pack(source)
    contents["../../escape.txt"] = b"x"
    with pytest.raises(ValueError, match="outside the run directory"):
        run_directory.install(contents, str(tmp_path / "logs" / "exp" / "run"))
    assert os.listdir(tmp_path / "logs" / "exp") == []
    without_record = {k: v for k, v in run_directory.pack(source).items() if k != run_directory.RECORD_FILE}
    with pytest.raises(ValueError, match="not a finished run"):
        run_directory.install(without_record, str(tmp_path / "logs" / "exp" / "run"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / "results.json")
    files.write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        files.write_json_atomic(path, {"a": object()})
    assert files.read_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["results.json"]
