"""Stacked seeds (experiments/engine/stacked/): each member of one stacked model equals the separate
`train_run` of its seed, to float32 tolerance, histories and final metrics; a member that
diverges is stopped where the divergence guard stops its separate run, and the others go on."""

import numpy as np
import pytest

from experiments.config.settings import resolve
from experiments.engine import models, stacked, training

SEEDS = [0, 1, 2]
BASE = {"epochs": 3, "limit": 300, "width": 16}
CASES = {
    "sgd_momentum": {"optimizer": "sgd", "momentum": 0.9, "learning_rate": 0.05},
    "adam": {"optimizer": "adam", "learning_rate": 0.01},
    "adam_warmup_cosine": {"optimizer": "adam", "learning_rate": 0.01, "schedule": "cosine", "warmup_epochs": 1.0},
    "rmsprop_sorted": {"optimizer": "rmsprop", "learning_rate": 0.003, "shuffle": "sorted", "steps_per_execution": 3},
    "sgd_momentum_batch_norm": {"optimizer": "sgd", "momentum": 0.9, "learning_rate": 0.05, "batch_norm": True},
    "adam_batch_norm_xla": {"optimizer": "adam", "learning_rate": 0.01, "batch_norm": True, "jit_compile": True},
}
FINAL = (
    "train_loss", "train_accuracy", "val_loss", "val_accuracy", "best_val_accuracy", "loss_increases",
    "updates_per_epoch", "effective_batch_size",
    "val_loss_half_a", "val_loss_half_b", "val_accuracy_half_a", "val_accuracy_half_b",
)  # fmt: skip
HISTORY = ("loss", "accuracy", "val_loss", "val_accuracy")


def separate(config, seed, tmp_path, with_guard=False):
    callbacks = None if with_guard else (lambda *args: [])
    return training.train_run({**config, "seed": seed}, str(tmp_path / f"separate_{seed}"), callbacks=callbacks)


def _floats(values):
    return np.asarray(values, dtype=float)  # a record read back from JSON holds NaN as None


def assert_same_run(member, alone):
    assert member["status"] == alone["status"] and member["reason"] == alone["reason"]
    assert member["epochs_completed"] == alone["epochs_completed"]
    assert member["fingerprint"] == alone["fingerprint"]  # same initial weights, same first-epoch order
    for key in HISTORY:
        np.testing.assert_allclose(
            _floats(member["history"][key]), _floats(alone["history"][key]), rtol=1e-5, atol=1e-6, err_msg=key
        )
    for key in FINAL:
        np.testing.assert_allclose(
            _floats(member["metrics"][key]), _floats(alone["metrics"][key]), rtol=1e-5, atol=1e-6, err_msg=key
        )


@pytest.fixture
def fresh_models(monkeypatch):
    # Separate runs that build their own models (the compiled-model cache redraws weights from the
    # initializers, which would skip a test's doctored builder); elsewhere the cache, which gives
    # a fresh build's numbers (tests/test_run_cache.py), keeps the test fast.
    monkeypatch.setattr(training, "COMPILED_MODELS", None)


@pytest.mark.parametrize("case", sorted(CASES))
def test_members_equal_their_separate_runs(case, tmp_path):
    config = resolve({**BASE, **CASES[case]})
    records = stacked.train_stacked(config, SEEDS)
    assert [r["stacked"]["seeds"] for r in records] == [SEEDS] * 3
    assert set(records[0]) >= {"status", "metrics", "history", "fingerprint", "initial_loss", "wall_time_s"}
    for seed, member in zip(SEEDS, records):
        assert_same_run(member, separate(config, seed, tmp_path))
    assert len({r["fingerprint"]["initial_weights"] for r in records}) == 3  # the seeds really differ


@pytest.mark.filterwarnings("ignore:Exploding gradient")
def test_a_diverging_member_stops_as_its_separate_run_and_the_others_go_on(monkeypatch, tmp_path, fresh_models):
    build = models.build_model

    def build_with_seed_1_blown_up(config, dataset):
        model = build(config, dataset)
        if config["seed"] == 1:  # weights 100x: at this rate its loss explodes in the third epoch
            model.set_weights([w * 100.0 for w in model.get_weights()])
        return model

    monkeypatch.setattr(models, "build_model", build_with_seed_1_blown_up)
    config = resolve({**BASE, **CASES["sgd_momentum"]})
    with pytest.warns(RuntimeWarning, match="Diverged"):  # the separate run's guard
        alone = [separate(config, seed, tmp_path, with_guard=True) for seed in SEEDS]
    assert [r["status"] for r in alone] == ["ok", "diverged", "ok"] and alone[1]["epochs_completed"] == 3
    records = stacked.train_stacked(config, SEEDS, cache=stacked.fresh_groups())  # the doctored builder's
    for member, run in zip(records, alone):
        assert_same_run(member, run)
        assert member["initial_loss"] == pytest.approx(run["initial_loss"], rel=1e-6)
    assert records[1]["divergence"]["step"] == 24 and records[1]["divergence"]["reason"] == "loss_growth"


def test_a_member_whose_start_is_nan_fails_as_its_separate_run(monkeypatch, tmp_path, fresh_models):
    build = models.build_model

    def build_with_seed_1_nan(config, dataset):
        model = build(config, dataset)
        if config["seed"] == 1:
            weights = model.get_weights()
            weights[0][0, 0] = np.nan
            model.set_weights(weights)
        return model

    monkeypatch.setattr(models, "build_model", build_with_seed_1_nan)
    config = resolve({**BASE, **CASES["adam"]})
    with pytest.raises(ValueError, match="initial_loss"):  # the guard's reference must be finite
        separate(config, 1, tmp_path, with_guard=True)
    with pytest.raises(ValueError, match="initial_loss"):
        stacked.train_stacked(config, SEEDS, cache=stacked.fresh_groups())


def test_record_steps_are_the_separate_runs(tmp_path):
    config = resolve({**BASE, **CASES["adam"], "record_steps": 3, "steps_per_execution": 2})
    records = stacked.train_stacked(config, [0, 1])
    for seed, member in zip([0, 1], records):
        alone = separate(config, seed, tmp_path)
        assert member["early_steps"]["step"] == alone["early_steps"]["step"] == [2, 4, 6]
        np.testing.assert_allclose(member["early_steps"]["loss"], alone["early_steps"]["loss"], rtol=1e-5)


def test_run_directories_get_each_members_curves(tmp_path):
    config = resolve({**BASE, "epochs": 2})
    directories = [str(tmp_path / f"seed{s}") for s in (0, 1)]
    stacked.train_stacked(config, [0, 1], run_dirs=directories)
    for directory in directories:
        lines = (tmp_path / directory / "metrics.jsonl").read_text().splitlines()
        assert (
            len(lines) == 2
            and (tmp_path / directory / "train").is_dir()
            and (tmp_path / directory / "validation").is_dir()
        )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": "cnn"}, "only the MLP"),
        ({"clipnorm": 1.0}, "clipnorm"),
        ({"divergence_rollback": True}, "rollback"),
    ],
)
def test_what_cannot_be_stacked_is_refused_before_training(overrides, message):
    with pytest.raises(stacked.NotStackable, match=message):
        stacked.train_stacked(resolve({**BASE, **overrides}), SEEDS)


def test_seeds_must_be_distinct():
    with pytest.raises(stacked.NotStackable, match="distinct"):
        stacked.train_stacked(resolve(BASE), [0, 0])


TINY_SPEC = """
description = "tiny learning-rate sweep"
question = "does a huge rate diverge?"
seeds = 3
[fixed]
optimizer = "sgd"
momentum = 0.9
epochs = 2
limit = 240
width = 8
[vary]
learning_rate = [0.05, 1000000.0]
"""


@pytest.mark.filterwarnings("ignore:Exploding gradient", "ignore:Diverged")
def test_the_command_line_stacks_seeds_into_the_runs_normal_directories(tmp_path):
    from experiments import cli
    from experiments.engine import run_directory

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.toml").write_text(TINY_SPEC)
    arms = (("stacked", []), ("stacked_jobs", ["--jobs", "2"]), ("separate", ["--no-stack-seeds"]))
    for name, extra in arms:
        argv = ["tiny", "--specs-dir", str(specs), "--logdir", str(tmp_path / name), *extra]
        assert cli.main(argv) == 0
    runs = sorted(p.parent.relative_to(tmp_path / "separate") for p in (tmp_path / "separate").rglob("record.json"))
    assert len(runs) == 6
    for run in runs:
        alone = run_directory.read_record(str(tmp_path / "separate" / run))
        for name in ("stacked", "stacked_jobs"):  # in this process, and in two worker processes
            member = run_directory.read_record(str(tmp_path / name / run))
            assert member["stacked"]["members"] == 3 and "stacked" not in alone
            assert member["config"] == alone["config"] and member["run_id"] == alone["run_id"]
            assert (tmp_path / name / run / run_directory.CONFIG_FILE).exists()
            assert_same_run(member, alone)
    assert cli.main(["tiny", "--specs-dir", str(specs), "--logdir", str(tmp_path / "stacked")]) == 0
    assert all("stacked" in run_directory.read_record(str(tmp_path / "stacked" / run)) for run in runs)  # done: kept


def test_a_group_the_stacked_path_refuses_is_trained_run_by_run(tmp_path):
    from experiments.engine import run_directory
    from experiments.sweeps import stacked_pool, workers
    from experiments.sweeps.planning import PlannedRun

    settings = {"epochs": 1, "limit": 120, "width": 4, "clipnorm": 1.0}
    runs = [PlannedRun("e", f"s{seed}", "g", "final", resolve({**settings, "seed": seed})) for seed in (0, 1)]
    tasks = stacked_pool.stacked_tasks(runs)
    assert [(function, len(members)) for function, members in tasks] == [(stacked_pool.train_group, 2)]
    records = {run.run_id: record for run, record in workers.SerialPool().map_tasks(tasks, str(tmp_path))}
    for run in runs:
        record = records[run.run_id]
        assert "stacked" not in record and record["status"] in ("ok", "did_not_learn")
        assert run_directory.read_record(run.directory(str(tmp_path)))["run_id"] == run.run_id
