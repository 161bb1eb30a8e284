"""The [tune] stage: each tuned value on `tune_seeds` seeds, the best mean over them wins."""

import textwrap

import pytest
import tomllib

from experiments import spec
from experiments.sweeps import planning

TUNED = """
description = "tiny"
question = "tiny?"
seeds = 3
{extra}
[fixed]
epochs = 1
[tune]
learning_rate = [0.1, 1.0]
"""


def _experiment(extra=""):
    return spec.parse("tiny", tomllib.loads(textwrap.dedent(TUNED.format(extra=extra))), "default")


def _records(runs, val_loss):
    """Records of `runs` with the val_loss `val_loss[(learning_rate, seed)]` (None: diverged)."""
    records = []
    for run in runs:
        loss = val_loss[(run.config["learning_rate"], run.config["seed"])]
        records.append({
            "configuration": run.configuration, "group": run.group, "config": run.config,
            "status": "ok" if loss is not None else "diverged", "metrics": {"val_loss": loss},
        })  # fmt: skip
    return records


# On seed 0 the large rate looks best; over two seeds the small one is (seed 1 of 1.0 is worse).
LOSSES = {(0.1, 0): 0.5, (0.1, 1): 0.5, (1.0, 0): 0.3, (1.0, 1): 0.9}


def test_one_tuning_seed_picks_by_seed_0():
    experiment = _experiment()
    first = planning.first_stage(experiment, {})
    assert [(r.config["learning_rate"], r.config["seed"]) for r in first] == [(0.1, 0), (1.0, 0)]
    final = planning.final_stage(experiment, {}, 3, _records(first, LOSSES))
    assert {r.config["learning_rate"] for r in final} == {1.0}
    assert [r.config["seed"] for r in final] == [0, 1, 2]


@pytest.mark.parametrize("seed_1_of_the_large_rate", [0.9, None])  # worse, or diverged
def test_tuning_seeds_pick_the_best_mean(seed_1_of_the_large_rate):
    experiment = _experiment("tune_seeds = 2")
    first = planning.first_stage(experiment, {})
    assert [(r.config["learning_rate"], r.config["seed"]) for r in first] == [(0.1, 0), (0.1, 1), (1.0, 0), (1.0, 1)]
    final = planning.final_stage(experiment, {}, 3, _records(first, {**LOSSES, (1.0, 1): seed_1_of_the_large_rate}))
    assert {r.config["learning_rate"] for r in final} == {0.1}
    # The tuning runs of the winner are its first seeds' final runs (the runner reuses them).
    assert {r.run_id for r in final} >= {r.run_id for r in first if r.config["learning_rate"] == 0.1}


@pytest.mark.parametrize("extra, message", [
    ("tune_seeds = 0", "`tune_seeds` must be an integer >= 1"),
    ("tune_seeds = 2.5", "`tune_seeds` must be an integer >= 1"),
])  # fmt: skip
def test_bad_tune_seeds_is_refused_when_the_file_is_read(extra, message):
    with pytest.raises(spec.SpecError, match=message):
        _experiment(extra)


def test_tune_seeds_without_a_tune_table_is_refused():
    raw = tomllib.loads('description = "d"\nquestion = "q"\ntune_seeds = 2\n[fixed]\nepochs = 1\n')
    with pytest.raises(spec.SpecError, match=r"`tune_seeds` needs a \[tune\] table"):
        spec.parse("tiny", raw, "default")
