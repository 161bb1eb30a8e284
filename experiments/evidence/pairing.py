"""Pairing by seed: seed s must give every arm the same initial weights and the same data order,
so that the per-seed difference removes that noise. `pair` asserts it from the records: their
settings, and the fingerprints each run saved (hashes of its initial weights and first-epoch order).
"""

# The settings that decide the initial weights (experiments/engine/models.py), besides the seed and data.
MODEL_SETTINGS = ("model", "width", "depth", "activation", "initializer", "batch_norm")


class PairingError(AssertionError):
    """Two arms' runs for one seed do not share initialization and data order."""


def pair(first, second, key="seed"):
    """Per-seed pairs of two arms' runs: `first` and `second` map seed -> record. Asserts that
    each pair shares what fixes initialization and data order: the seed, the data set and its
    size, and, where the records carry fingerprints (experiments/engine/fingerprints.py writes them), the initial
    weights (unless the arms differ in the model's settings) and the first epoch's data order
    (unless they differ in `shuffle` or backend)."""
    pairs = []
    for seed in sorted(set(first) & set(second)):
        a, b = first[seed]["config"], second[seed]["config"]
        for name in (key, "dataset", "limit"):
            if a.get(name) != b.get(name):
                raise PairingError(f"seed {seed}: the arms differ in {name} ({a.get(name)!r} vs {b.get(name)!r})")
        # What the seed should fix, observed: initial weights and first-epoch data order.
        reason = fingerprint_mismatch(first[seed], second[seed])
        if reason:
            raise PairingError(f"seed {seed}: {reason}")
        pairs.append((seed, first[seed], second[seed]))
    return pairs


def fingerprint_mismatch(first, second):
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
