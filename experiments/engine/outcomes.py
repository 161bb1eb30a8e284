"""A run's outcome: did it learn? Only `ok` counts as a success anywhere in the suite.

- `failed`: the run raised (its record says why);
- `diverged`: the divergence guard stopped it (loss NaN or past `divergence_factor` times its start);
- `did_not_learn`: it finished, but its final validation accuracy is within `chance_margin`
  (a setting, default 0.1) of chance, 1 / classes, or its training loss never fell below its
  value at initialization (ln(classes) when an old record lacks it);
- `ok`: otherwise.

A network at 0.1 validation accuracy on 10 classes has a finite loss and is not "stable": it is
dead. `classify` is idempotent and is applied when the record is written and again when old
records are read, so an old log directory gets the same outcomes.
"""

import math

OUTCOMES = ("ok", "did_not_learn", "diverged", "failed")
DEFAULT_CHANCE_MARGIN = 0.1
CLASSES = {"digits": 10, "mnist": 10, "fashion_mnist": 10}


def num_classes(record):
    metrics = record.get("metrics") or {}
    if metrics.get("num_classes"):
        return int(metrics["num_classes"])
    dataset = (record.get("config") or {}).get("dataset", "digits")
    return CLASSES.get(dataset, 10)


def classify(record):
    """The record's outcome, one of OUTCOMES, and the reason (empty for ok)."""
    status = record.get("status")
    if status in ("failed", "diverged"):
        return status, record.get("reason", "")
    config = record.get("config") or {}
    margin = config.get("chance_margin", DEFAULT_CHANCE_MARGIN)
    classes = num_classes(record)
    chance = 1.0 / classes
    accuracy = (record.get("metrics") or {}).get("val_accuracy")
    if accuracy is None or not math.isfinite(accuracy):
        return "did_not_learn", "no final validation accuracy"
    if accuracy <= chance + margin:
        return "did_not_learn", f"final validation accuracy {accuracy:.3g} is within {margin:g} of chance ({chance:.3g})"
    losses = [x for x in (record.get("history") or {}).get("loss", []) if x is not None and math.isfinite(x)]
    start = record.get("initial_loss") or math.log(classes)
    if losses and min(losses) >= start:
        return "did_not_learn", f"the training loss never fell below its initial {start:.3g}"
    return "ok", ""


def with_outcome(record):
    """The record with `status` (and `reason`) set to its outcome; `status` keeps one vocabulary."""
    outcome, reason = classify(record)
    if outcome == record.get("status"):
        return record
    return {**record, "status": outcome, "reason": reason, "finished_status": record.get("status")}
