"""The claims' grid and restart tests against hand-computed cases: best_rate (the rate each
arm does best at) and best_of_n (random restarts, selected on one half of the validation set and
reported on the other)."""

import math
import textwrap

import numpy as np
import pytest
import tomllib

from experiments import spec
from experiments.evidence import claims

RATES_SPEC = """
    description = "d"
    question = "q"
    seeds = 3
    [fixed]
    epochs = 1
    [vary]
    learning_rate = [0.001, 0.01, 0.1]
    [[arms]]
    label = "sgd"
    optimizer = "sgd"
    [[arms]]
    label = "rmsprop"
    optimizer = "rmsprop"
    [[claims]]
    id = "rmsprop-smaller-lr"
    claim = "RMSprop needs a smaller rate"
    source = ["001"]
    test = "best_rate"
    metric = "val_loss"
    arms = [{ label = "rmsprop" }, { label = "sgd" }]
    direction = "less"
    margin = 0.5
"""

RESTARTS_SPEC = """
    description = "d"
    question = "q"
    seeds = 6
    [fixed]
    optimizer = "sgd"
    [[claims]]
    id = "random-restarts-help"
    claim = "best of 3 beats one"
    source = ["000"]
    test = "best_of_n"
    restarts = 3
    metric = "val_accuracy"
    arms = ["best"]
    direction = "greater"
"""


def _experiment(text):
    return spec.parse("tiny", tomllib.loads(textwrap.dedent(text)), "default")


def _record(optimizer, lr, seed, metrics, status="ok"):
    config = {"optimizer": optimizer, "learning_rate": lr, "seed": seed, "dataset": "digits", "limit": None, "momentum": 0.0}
    return {"group": f"{optimizer}_lr={lr:g}", "stage": "final", "status": status, "config": config, "metrics": metrics}


def test_best_rate_is_the_log10_of_each_arms_best_rate_by_seed():
    experiment = _experiment(RATES_SPEC)
    # val_loss per (optimizer, rate) and seed: RMSprop is best at 0.001 on every seed; SGD at 0.1,
    # 0.1 and (seed 2, where its 0.1 run diverged) 0.01.
    losses = {
        ("sgd", 0.001): [2.0, 2.1, 2.2], ("sgd", 0.01): [1.0, 1.1, 0.9], ("sgd", 0.1): [0.3, 0.4, math.nan],
        ("rmsprop", 0.001): [0.2, 0.25, 0.3], ("rmsprop", 0.01): [0.5, 0.6, 0.4], ("rmsprop", 0.1): [2.0, 2.0, 2.0],
    }  # fmt: skip
    records = [
        _record(opt, lr, seed, {"val_loss": v}, status="diverged" if math.isnan(v) else "ok")
        for (opt, lr), per_seed in losses.items() for seed, v in enumerate(per_seed)
    ]  # fmt: skip
    values, notes = claims.per_seed_values(experiment.claims[0], experiment, records)
    # Per seed: log10(0.001) - log10(0.1) = -2, -2, and log10(0.001) - log10(0.01) = -1.
    assert values == pytest.approx([-2.0, -2.0, -1.0])
    assert any("grid's edge" in note for note in notes)  # the best rates sit at the ends of the grid
    finding = claims.evaluate(experiment.claims[0], experiment, records)
    assert finding.n == 3 and finding.metric.startswith("log10 of the learning_rate")  # both arms' best rates sit at an end of the grid


def test_best_of_n_selects_on_half_a_and_reports_half_b():
    experiment = _experiment(RESTARTS_SPEC)
    halves = [  # (accuracy on half A, on half B) of seeds 0..5
        (0.90, 0.80), (0.95, 0.85), (0.85, 0.90),  # group 1: pick seed 1 on A; B: 0.85 - mean(0.80, 0.85, 0.90)
        (0.70, 0.75), (0.60, 0.95), (0.80, 0.70),  # group 2: pick seed 5 on A (not 4, best on B)
    ]
    records = [
        {"group": "base", "stage": "final", "status": "ok", "config": {"seed": s, "dataset": "digits", "limit": None},
         "metrics": {"val_accuracy_half_a": a, "val_accuracy_half_b": b}}
        for s, (a, b) in enumerate(halves)
    ]  # fmt: skip
    values, _ = claims.per_seed_values(experiment.claims[0], experiment, records)
    assert values == pytest.approx([0.85 - 0.85, 0.70 - np.mean([0.75, 0.95, 0.70])])
    finding = claims.evaluate(experiment.claims[0], experiment, records)
    assert finding.n == 2 and finding.verdict == "inconclusive"


def test_best_of_n_needs_a_metric_measured_on_both_halves():
    bad = RESTARTS_SPEC.replace('metric = "val_accuracy"', 'metric = "train_loss"')
    with pytest.raises(spec.SpecError, match="best_of_n"):
        _experiment(bad)
    with pytest.raises(spec.SpecError, match="restarts"):
        _experiment(RESTARTS_SPEC.replace("restarts = 3", "restarts = 1"))
