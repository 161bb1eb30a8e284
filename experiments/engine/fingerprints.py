"""What makes seed s the same experiment in every arm: short hashes of a run's initial weights and
of its first epoch's data order, saved in each record and checked when arms are paired
(experiments/evidence/pairing.py `pair`)."""

import hashlib

import numpy as np

from experiments.data import shuffling


def digest(arrays):
    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        hasher.update(str((array.dtype.str, array.shape)).encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()[:16]


def of_run(model, dataset, config):
    """{"initial_weights", "data_order"} of a run about to train `model` (call before `fit`)."""
    order = shuffling.first_epoch_order(dataset, config["seed"], config["shuffle"], config["backend"])
    return {"initial_weights": digest(model.get_weights()), "data_order": digest([order])}
