"""Reused compiled models on every backend: a process that trains more runs than its cache holds,
seeds repeating on one compiled model, gives every run the record of a fresh model. On JAX the
compiled step donates its input buffers: a reset that handed a kept array to a variable lost it
to the next run ("Buffer has been deleted or donated"), every time a seed came back."""

import keras
import numpy as np
import pytest

from experiments.config.settings import resolve
from experiments.engine import compiled_models, training

pytestmark = pytest.mark.all_backends

TINY = {"epochs": 1, "limit": 160, "width": 8, "batch_size": 32}
# Two architectures, two seeds each, two rates through a cache of two (every seed comes back to a
# kept model); then a third architecture evicts one, and the evicted one comes back.
PLANS = [
    *({"optimizer": optimizer, "learning_rate": rate, "seed": seed}
      for rate in (0.01, 0.03) for optimizer in ("sgd", "adam") for seed in (0, 1)),
    {"optimizer": "rmsprop", "learning_rate": 0.003, "seed": 0},
    {"optimizer": "sgd", "learning_rate": 0.1, "seed": 1},
]  # fmt: skip
NUMBERS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_loss_half_a", "val_accuracy_half_b")


def _train(config, run_dir):
    return training.train_run(config, run_dir, callbacks=lambda *args: [])


def test_more_runs_than_the_cache_holds_equal_fresh_models(monkeypatch, tmp_path):
    backend = keras.backend.backend()
    configs = [resolve({**TINY, **plan, "backend": backend}) for plan in PLANS]
    monkeypatch.setattr(training, "COMPILED_MODELS", compiled_models.CompiledModels(capacity=2))
    reused = [_train(config, str(tmp_path / f"reused{i}")) for i, config in enumerate(configs)]
    assert sum(r["reused_compiled_model"] for r in reused) >= 4
    monkeypatch.setattr(training, "COMPILED_MODELS", None)
    for i, (config, record) in enumerate(zip(configs, reused)):
        fresh = _train(config, str(tmp_path / f"fresh{i}"))
        assert record["status"] == fresh["status"] == "ok", record.get("reason")
        assert record["fingerprint"] == fresh["fingerprint"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(record["history"][key], fresh["history"][key], rtol=1e-6, err_msg=key)
        for key in NUMBERS:
            np.testing.assert_allclose(record["metrics"][key], fresh["metrics"][key], rtol=1e-6, err_msg=key)
