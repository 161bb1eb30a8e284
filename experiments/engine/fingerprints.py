"""What makes seed s the same experiment in every arm: short hashes of a run's initial weights and
of its first epoch's data order, saved in each record and checked when arms are paired
(experiments/evidence/decision.py `pair`)."""

import hashlib

import numpy as np

from experiments.data import shuffling

# The settings that decide the initial weights (experiments/engine/models.py), besides the seed and data.
MODEL_SETTINGS = ("model", "width", "depth", "activation", "initializer", "batch_norm")


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


def mismatch(first, second):
    """Why two runs of one seed are not paired (a sentence), or "" when their fingerprints agree
    wherever their settings say they should. Records without fingerprints (older runs) pass."""
    fa, fb = first.get("fingerprint"), second.get("fingerprint")
    if not fa or not fb:
        return ""
    a, b = first["config"], second["config"]
    same = lambda names: all(a.get(n) == b.get(n) for n in names)  # noqa: E731
    if same(("shuffle", "backend")) and fa["data_order"] != fb["data_order"]:
        return "the arms saw the training data in different orders"
    if same(MODEL_SETTINGS) and fa["initial_weights"] != fb["initial_weights"]:
        return "the arms started from different initial weights (a model builder that ignores the seed?)"
    return ""
