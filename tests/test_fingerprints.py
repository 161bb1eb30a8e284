"""What pairing by seed relies on, observed: each record's fingerprints of its initial weights and
first-epoch data order, and the two halves of the validation set that restarts select on."""

import numpy as np
import pytest

from experiments.config.settings import resolve
from experiments.data import datasets, shuffling
from experiments.engine import training
from experiments.evidence import claims, pairing

BASE = {"epochs": 1, "limit": 160, "width": 8, "depth": 1}


def _train(tmp_path, name, **settings):
    config = resolve({**BASE, **settings})
    return config, training.train_run(config, str(tmp_path / name), callbacks=lambda *args: [])


def test_the_recipe_gives_the_order_the_pipeline_trains_in():
    # Each example's one feature is its own index: the batches spell out the order.
    n = 37
    dataset = datasets.Dataset("indices", np.arange(n, dtype=np.float32)[:, None], np.arange(n, dtype=np.int32) % 3,
                           np.zeros((2, 1), np.float32), np.zeros(2, np.int32), 3)  # fmt: skip
    for order in shuffling.ORDERS:
        pipeline = training.training_batches(dataset, 8, seed=5, shuffle=order)
        seen = np.concatenate([x.numpy()[:, 0] for x, _ in pipeline]).astype(int)
        assert seen.tolist() == shuffling.first_epoch_order(dataset, 5, order).tolist(), order
    batches = training.ShuffledBatches(dataset.x_train, dataset.y_train, 8, seed=5)
    seen = np.concatenate([batches[i][0][:, 0] for i in range(len(batches))]).astype(int)
    assert seen.tolist() == shuffling.first_epoch_order(dataset, 5, "each_epoch", backend="jax").tolist()


def test_kept_orders_are_those_drawn_afresh(monkeypatch):
    import tensorflow as tf

    dataset = datasets.Dataset("small", np.zeros((50, 1), np.float32), np.zeros(50, np.int32),
                           np.zeros((2, 1), np.float32), np.zeros(2, np.int32), 3)  # fmt: skip
    monkeypatch.setattr(shuffling, "KEPT_ORDERS", {})
    kept = {}
    for global_seed in (1, 2, 1):  # the global seed (the run's) is part of what decides it
        tf.random.set_seed(global_seed)
        kept[global_seed] = shuffling.first_epoch_order(dataset, 5, "each_epoch")
    assert not np.array_equal(kept[1], kept[2])
    assert len(shuffling.KEPT_ORDERS) == 2
    for global_seed in (1, 2):
        monkeypatch.setattr(shuffling, "KEPT_ORDERS", {})
        tf.random.set_seed(global_seed)
        np.testing.assert_array_equal(kept[global_seed], shuffling.first_epoch_order(dataset, 5, "each_epoch"))


def test_arms_of_one_seed_share_weights_and_order_and_seeds_differ(tmp_path):
    _, sgd = _train(tmp_path, "sgd", optimizer="sgd", learning_rate=0.1, seed=0)
    _, adam = _train(tmp_path, "adam", optimizer="adam", learning_rate=0.001, seed=0)
    _, other_seed = _train(tmp_path, "seed1", optimizer="sgd", learning_rate=0.1, seed=1)
    _, once = _train(tmp_path, "once", optimizer="sgd", learning_rate=0.1, seed=0, shuffle="once")
    assert sgd["fingerprint"] == adam["fingerprint"]
    assert sgd["fingerprint"]["initial_weights"] != other_seed["fingerprint"]["initial_weights"]
    assert sgd["fingerprint"]["data_order"] != other_seed["fingerprint"]["data_order"]
    assert once["fingerprint"]["initial_weights"] == sgd["fingerprint"]["initial_weights"]
    assert once["fingerprint"]["data_order"] != sgd["fingerprint"]["data_order"]


def _paired(seed, weights="w", order="o", **config):
    return {"config": {"seed": seed, "dataset": "digits", "limit": None, "shuffle": "each_epoch", "backend": "tensorflow",
                       "width": 8, **config},
            "fingerprint": {"initial_weights": weights, "data_order": order}, "status": "ok",
            "metrics": {"val_loss": 1.0}}  # fmt: skip


def test_pairing_refuses_seeds_whose_weights_or_order_differ():
    assert len(pairing.pair({0: _paired(0)}, {0: _paired(0)})) == 1
    with pytest.raises(pairing.PairingError, match="initial weights"):
        pairing.pair({0: _paired(0)}, {0: _paired(0, weights="other")})
    with pytest.raises(pairing.PairingError, match="orders"):
        pairing.pair({0: _paired(0)}, {0: _paired(0, order="other")})
    # Arms that vary the model or the order may differ there; records without fingerprints pass.
    assert pairing.pair({0: _paired(0)}, {0: _paired(0, weights="other", width=16)})
    assert pairing.pair({0: _paired(0)}, {0: _paired(0, order="other", shuffle="sorted")})
    assert pairing.pair({0: {"config": _paired(0)["config"]}}, {0: _paired(0, weights="x")})


def test_a_claim_on_unpaired_arms_is_not_decided():
    from tests.test_evidence import SPEC, _experiment

    experiment = _experiment(SPEC)
    records = []
    for lr, weights in ((0.1, "w"), (0.01, "other")):
        for seed in range(5):
            record = _paired(seed, weights=weights, learning_rate=lr, optimizer="sgd")
            records.append({**record, "group": f"lr={lr:g}", "stage": "final"})
    finding = claims.evaluate(experiment.claims[0], experiment, records)
    assert finding.verdict == "no information" and "not paired" in finding.evidence


def test_validation_halves_split_the_validation_set_exactly(tmp_path):
    config, record = _train(tmp_path, "run", optimizer="sgd", learning_rate=0.1, seed=0)
    metrics = record["metrics"]
    size = len(training.get_dataset(config).x_val)
    a, b = size // 2, size - size // 2
    # Keras's final validation pass over the whole set is the size-weighted mean of the halves.
    assert (a * metrics["val_accuracy_half_a"] + b * metrics["val_accuracy_half_b"]) / size == pytest.approx(metrics["val_accuracy"], abs=1e-6)
    assert (a * metrics["val_loss_half_a"] + b * metrics["val_loss_half_b"]) / size == pytest.approx(metrics["val_loss"], rel=1e-5)
