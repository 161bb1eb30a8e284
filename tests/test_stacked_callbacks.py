"""Stacked seeds with the logging callbacks, as the runner trains them: each member's record,
history (with the learning rate its logger adds), early steps, metrics.jsonl and every scalar of
its event files equal its separate run's (`training.train_run` with the runner's callbacks), to
float32 rounding; for each optimizer, with batch normalization, with a schedule, with a member
that diverges. The stacked members run the callbacks that need only the loss and the optimizer
(`stacked.member_callbacks`): not the gradient and optimizer-state statistics, whose tags and
`metrics["gradient_norms"]` only the separate runs have."""

import json
import math
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from experiments.config.settings import resolve
from experiments.engine import models, stacked, training

SEEDS = [0, 1, 2]
BASE = {"epochs": 3, "limit": 300, "width": 16, "log_every_steps": 2, "record_steps": 4, "steps_per_execution": 2}
CASES = {
    "sgd_momentum": {"optimizer": "sgd", "momentum": 0.9, "learning_rate": 0.05},
    "adagrad": {"optimizer": "adagrad", "learning_rate": 0.05},
    "rmsprop": {"optimizer": "rmsprop", "learning_rate": 0.003},
    "adam_batch_norm": {"optimizer": "adam", "learning_rate": 0.01, "batch_norm": True},
    "sgd_warmup_cosine": {"optimizer": "sgd", "learning_rate": 0.1, "schedule": "cosine", "warmup_epochs": 1.0},
}
# What a member's event files hold: the learning-rate logger's, the epoch curves (train and
# validation), the validation by steps. The separate runs have the statistics' tags besides.
MEMBER_TAGS = {
    ("train", "optimizer/learning_rate"), ("train", "optimizer/epoch_learning_rate"),
    ("train", "epoch_loss"), ("train", "epoch_accuracy"), ("train", "epoch_learning_rate"),
    ("validation", "epoch_loss"), ("validation", "epoch_accuracy"),
    ("validation", "evaluation_loss_vs_iterations"), ("validation", "evaluation_accuracy_vs_iterations"),
    ("train", "divergence/diverged"),
}  # fmt: skip
CLOSE = {"rtol": 1e-5, "atol": 1e-6}


def _scalars(run_dir):
    """`{(directory, tag): {step: value}}` of the run's event files, and metrics.jsonl's rows."""
    outputs = {}
    for directory in ("train", "validation"):
        accumulator = event_accumulator.EventAccumulator(
            os.path.join(run_dir, directory), size_guidance={event_accumulator.TENSORS: 0}
        ).Reload()
        for tag in accumulator.Tags()["tensors"]:
            if (directory, tag) not in MEMBER_TAGS:
                continue
            values = {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in accumulator.Tensors(tag)}
            outputs[(directory, tag)] = values
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        outputs["metrics.jsonl"] = [
            {k: v for k, v in json.loads(line).items() if k not in ("time", "elapsed_seconds")} for line in f
        ]
    return outputs


def _same(a, b, what):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for key in a:
            _same(a[key], b[key], f"{what}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{what}[{i}]")
    elif isinstance(a, (bytes, str)) or (isinstance(a, np.ndarray) and a.dtype.kind in "OSU"):
        assert a == b, what
    else:
        a = math.nan if a is None else a
        b = math.nan if b is None else b
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), **CLOSE, err_msg=what)


def _compare(config, tmp_path, cache=None):
    alone_dirs = [str(tmp_path / f"separate{seed}") for seed in SEEDS]
    alone = [training.train_run({**config, "seed": s}, d) for s, d in zip(SEEDS, alone_dirs)]
    member_dirs = [str(tmp_path / f"member{seed}") for seed in SEEDS]
    records = stacked.train_stacked(config, SEEDS, run_dirs=member_dirs, cache=cache)
    for member, run, member_dir, alone_dir in zip(records, alone, member_dirs, alone_dirs):
        assert (member["status"], member["reason"]) == (run["status"], run["reason"])
        assert member["fingerprint"] == run["fingerprint"]
        _same(member["history"], run["history"], "history")  # learning_rate included
        _same(member["early_steps"], run["early_steps"], "early_steps")
        timing = ("ms_per_update", "samples_per_second", "gradient_norms")
        _same(
            {k: v for k, v in member["metrics"].items() if k not in timing},
            {k: v for k, v in run["metrics"].items() if k not in timing},
            "metrics",
        )
        scalars = _scalars(member_dir)
        assert scalars.keys() - {"metrics.jsonl", ("train", "divergence/diverged")} == MEMBER_TAGS - {
            ("train", "divergence/diverged")
        }
        _same(scalars, _scalars(alone_dir), member_dir)
    return records, alone


@pytest.mark.parametrize("case", sorted(CASES))
def test_members_write_what_their_separate_runs_write(case, tmp_path):
    _compare(resolve({**BASE, **CASES[case]}), tmp_path)


@pytest.mark.filterwarnings("ignore:Exploding gradient", "ignore:Diverged")
def test_a_diverging_member_writes_its_guards_record(monkeypatch, tmp_path):
    build = models.build_model

    def build_with_seed_1_blown_up(config, dataset):
        model = build(config, dataset)
        if config["seed"] == 1:
            model.set_weights([w * 100.0 for w in model.get_weights()])
        return model

    monkeypatch.setattr(models, "build_model", build_with_seed_1_blown_up)
    monkeypatch.setattr(training, "COMPILED_MODELS", None)  # the doctored builder, not a redraw
    config = resolve({**BASE, **CASES["sgd_momentum"]})
    records, alone = _compare(config, tmp_path, cache=stacked.fresh_groups())
    assert [r["status"] for r in records] == ["ok", "diverged", "ok"]
    with open(tmp_path / "member1" / "divergence.json") as f, open(tmp_path / "separate1" / "divergence.json") as g:
        member, run = json.load(f), json.load(g)
    assert member.pop("gradient_norm") is None and member.pop("gradient_norm_step") is None  # no statistics
    run.pop("gradient_norm"), run.pop("gradient_norm_step")
    _same(member, run, "divergence.json")
