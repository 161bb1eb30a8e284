"""The `shuffle` setting's orders, through the training pipeline, and the experiment end to end."""

import json
import textwrap

import numpy as np
import pytest

from experiments import cli
from experiments.config.settings import SettingError, validate
from experiments.data import datasets, shuffling
from experiments.engine.training import training_batches


def _epochs(pipeline, n=2):
    return [np.concatenate([y.numpy() for _, y in pipeline]) for _ in range(n)]


@pytest.fixture(scope="module")
def digits():
    return datasets.load_dataset("digits", limit=200)


def test_each_epoch_reshuffles_and_fixed_orders_repeat(digits):
    first, second = _epochs(training_batches(digits, 32, seed=3))
    assert not np.array_equal(first, second) and sorted(first) == sorted(second)
    for order in ("once", "sorted"):
        a, b = _epochs(training_batches(digits, 32, seed=3, shuffle=order))
        np.testing.assert_array_equal(a, b)
        assert sorted(a) == sorted(digits.y_train.tolist())


def test_sorted_is_by_class_and_once_is_a_seeded_permutation(digits):
    order = shuffling.fixed_order(digits.y_train, "sorted", seed=1)
    labels = digits.y_train[order]
    assert np.all(np.diff(labels) >= 0)
    assert sorted(order) == list(range(len(labels)))
    once = shuffling.fixed_order(digits.y_train, "once", seed=1)
    np.testing.assert_array_equal(once, np.random.default_rng(1).permutation(len(labels)))
    assert not np.array_equal(once, shuffling.fixed_order(digits.y_train, "once", seed=2))


def test_setting_checks_the_order():
    assert validate("shuffle", "once") == "once"
    with pytest.raises(SettingError, match="shuffle must be one of 'each_epoch', 'once', 'sorted'"):
        validate("shuffle", "never")


def test_experiment_end_to_end(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny_shuffle.toml").write_text(textwrap.dedent("""
        description = "tiny"
        question = "tiny?"
        kind = "shuffle_order"
        seeds = 2
        max_seeds = 2  # a fixed plan: no extra seeds for an undecided claim
        [params]
        epochs = 2
        limit = 120
        width = 8
        [[claims]]
        id = "shuffle-each-epoch"
        claim = "reshuffling beats one order"
        test = "kind"
        measure = "val_loss_once_minus_each_epoch"
        direction = "greater"
    """))
    assert cli.main(["tiny_shuffle", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs")]) == 0
    out = tmp_path / "logs" / "tiny_shuffle"
    (finding,) = json.loads((out / "findings.json").read_text())["findings"]
    assert finding["id"] == "shuffle-each-epoch" and finding["n"] == 2
    configs = [json.loads((out / f"{o}_seed1" / "config.json").read_text()) for o in shuffling.ORDERS]
    assert [c["shuffle"] for c in configs] == list(shuffling.ORDERS) and {c["seed"] for c in configs} == {1}
    assert sorted(p.name for p in (out / "hparams_groups").iterdir()) == sorted(shuffling.ORDERS)
