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


def _refined(losses_of):
    """Runs the tuning with refinement to the end, on val_loss = losses_of(learning_rate)."""
    experiment = _experiment()
    experiment.tune["learning_rate"] = [0.001, 0.01, 0.1, 1.0]
    runs = planning.first_stage(experiment, {})
    records = _records(runs, {(r.config["learning_rate"], 0): losses_of(r.config["learning_rate"]) for r in runs})
    for _ in range(planning.MAX_REFINEMENTS):
        more = planning.refine_tuning(experiment, {}, records)
        if not more:
            break
        records += _records(more, {(r.config["learning_rate"], 0): losses_of(r.config["learning_rate"]) for r in more})
    return sorted({r["config"]["learning_rate"] for r in records})


def test_refinement_halves_towards_the_best_until_a_quarter_decade():
    """Best near 0.3 (between the grid's 0.1 and 1): midpoints 0.316, then 0.178 and 0.562, ..."""
    import math

    tried = _refined(lambda lr: (math.log10(lr) - math.log10(0.3)) ** 2)
    best = min(tried, key=lambda lr: abs(math.log10(lr / 0.3)))
    i = tried.index(best)
    assert 0 < i < len(tried) - 1
    assert math.log10(best / tried[i - 1]) <= 0.25 + 1e-6 and math.log10(tried[i + 1] / best) <= 0.25 + 1e-6


def test_refinement_extends_past_an_edge_until_the_best_is_interior():
    """The loss keeps falling past the grid's top (best near 30): 10, then 100 are tried."""
    import math

    tried = _refined(lambda lr: (math.log10(lr) - math.log10(30.0)) ** 2)
    assert tried[-1] >= 100.0 - 1e-9 and max(tried) > 30


def test_an_experiment_can_keep_its_seeds_out_of_stacked_groups():
    # A claim on time per update needs each seed's own clock: stack_seeds = false plans runs the
    # stacked pool hands out one by one, in the tuning stage and the final one.
    from experiments.sweeps import stacked_pool, workers

    stacked, alone = _experiment(), _experiment("stack_seeds = false")
    final = planning.final_stage(alone, {}, 3, _records(planning.first_stage(alone, {}), LOSSES_ALL_SEEDS))
    assert all(run.stackable for run in planning.first_stage(stacked, {}))
    assert not any(run.stackable for run in planning.first_stage(alone, {}) + final)
    tasks = stacked_pool.stacked_tasks(final)
    assert [(function, len(runs)) for function, runs in tasks] == [(workers.train_each, 1)] * len(final)
    together = planning.final_stage(stacked, {}, 3, _records(planning.first_stage(stacked, {}), LOSSES_ALL_SEEDS))
    assert [len(runs) for _, runs in stacked_pool.stacked_tasks(together)] == [3]
    with pytest.raises(spec.SpecError, match="`stack_seeds` must be true or false; got 'no'"):
        _experiment('stack_seeds = "no"')


LOSSES_ALL_SEEDS = {(rate, seed): 0.5 for rate in (0.1, 1.0) for seed in range(3)}
