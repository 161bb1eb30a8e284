"""A stacked model kept between groups (experiments/engine/stacked/compiled.py) gives a group the
records of a new stacked model: its learning rate and held hyperparameters, its seeds' initial
weights, the optimizer's state as after `build`, after a group that diverged."""

import numpy as np
import pytest

from experiments.config.settings import resolve
from experiments.engine import stacked

BASE = {"epochs": 2, "limit": 200, "width": 8, "optimizer": "sgd"}
GROUPS = [  # one key: SGD with momentum (held in a variable), a constant rate
    ({**BASE, "learning_rate": 0.05, "momentum": 0.9}, [0, 1, 2]),
    ({**BASE, "learning_rate": 1e6, "momentum": 0.9}, [3, 4, 5]),  # diverges
    ({**BASE, "learning_rate": 0.02, "momentum": 0.5, "batch_size": 16}, [1, 2, 6]),
]


@pytest.mark.filterwarnings("ignore:Diverged", "ignore:Exploding gradient")
def test_a_kept_stacked_model_gives_a_new_ones_records():
    cache = stacked.StackedModels()
    kept = [stacked.train_stacked(resolve(settings), seeds, cache=cache) for settings, seeds in GROUPS]
    assert [r["reused_compiled_model"] for records in kept for r in records[:1]] == [False, True, True]
    assert {r["status"] for r in kept[1]} == {"diverged"}
    for (settings, seeds), records in zip(GROUPS, kept):
        fresh = stacked.train_stacked(resolve(settings), seeds, cache=stacked.fresh_groups())
        for member, alone in zip(records, fresh):
            assert (member["status"], member["reason"]) == (alone["status"], alone["reason"])
            assert member["fingerprint"] == alone["fingerprint"]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
                np.testing.assert_array_equal(member["history"].get(key), alone["history"].get(key), err_msg=key)
