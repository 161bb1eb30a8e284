"""Which runs an arm of a claim means, and the value of a record: the records a claim's tests read.

An arm is a table of settings, `{ label = ... }` for a named [[arms]] entry, or "best". When
several configurations match an arm (a tuned or varied learning rate), the one with the best
mean metric over its learned seeds is taken, the same rule for every arm. Tuned arms say the
resolution their tuning reached (experiments/sweeps/planning.py refines each arm's best until it
is interior and a quarter decade or finer): a best value at an edge is a limit of the verdict.
"""

import math

import numpy as np

from experiments.config.metrics import higher_is_better

HISTORY_KEYS = {"val_loss": "val_loss", "train_loss": "loss", "val_accuracy": "val_accuracy", "train_accuracy": "accuracy"}


def _early_loss(record, steps=20):
    early = record.get("early_steps") or {}
    losses = early.get("loss") or []
    return float(np.mean(losses[:steps])) if losses else None


def _late_progress(record):
    losses = (record.get("history") or {}).get("loss") or []
    if len(losses) < 4:
        return None
    return losses[-1] / losses[len(losses) // 2 - 1]


CLAIM_METRICS = {
    "val_loss": "final validation loss",
    "val_accuracy": "final validation accuracy",
    "train_loss": "final training loss",
    "train_accuracy": "final training accuracy",
    "best_val_accuracy": "best validation accuracy over the epochs",
    "ms_per_update": "milliseconds per update",
    "loss_increases": "epochs whose training loss rose",
    "learned": "1 if the run learned (outcome ok), else 0",
    "diverged": "1 if the run diverged, else 0",
    "early_loss": "mean training loss over the first 20 steps",
    "late_progress": "final training loss over the loss at mid-training",
    "steps": "per-seed value from the experiment kind",
}
HALVES_METRICS = ("val_loss", "val_accuracy")  # also measured on each half of the validation set
FINISHED = ("ok", "did_not_learn")


def value(record, metric, at_epoch=None):
    """The record's `metric` (None where the run has no usable value: diverged, failed, NaN)."""
    status = record.get("status")
    if metric == "learned":
        return 1.0 if status == "ok" else 0.0
    if metric == "diverged":
        return 1.0 if status == "diverged" else 0.0
    if status not in FINISHED:
        return None
    if metric == "early_loss":
        result = _early_loss(record)
    elif metric == "late_progress":
        result = _late_progress(record)
    elif at_epoch is not None and metric in HISTORY_KEYS:
        series = (record.get("history") or {}).get(HISTORY_KEYS[metric]) or []
        result = series[at_epoch - 1] if len(series) >= at_epoch else None
    else:
        result = (record.get("metrics") or {}).get(metric)
    if result is None or not math.isfinite(result):
        return None
    return float(result)


# -- Which runs an arm means ----------------------------------------------------------------------


def matches(record, arm, experiment):
    config = record["config"]
    if "label" in arm:
        if arm_label(experiment, config) != arm["label"]:
            return False
    return all(config.get(k) == v for k, v in arm.items() if k != "label")


def arm_label(experiment, config):
    """The named [[arms]] entry a config belongs to: the most specific one whose settings it has."""
    best, size = "", -1
    for arm in experiment.arms:
        settings = {k: v for k, v in arm.items() if k != "label"}
        if all(config.get(k) == v for k, v in settings.items()) and len(settings) > size:
            best, size = arm["label"], len(settings)
    return best


def _by_group(records):
    groups = {}
    for record in records:
        groups.setdefault(record["group"], {})[record["config"]["seed"]] = record
    return groups


def _claim_mean_score(seeds, claim):
    values = [value(r, claim.metric, claim.at_epoch) for r in seeds.values()]
    values = [v for v in values if v is not None]
    learned = sum(r.get("status") == "ok" for r in seeds.values())
    if not values or learned == 0:
        return math.inf
    mean = float(np.mean(values))
    return -mean if higher_is_better(claim.metric) else mean


def select(records, arm, claim, experiment, tried=()):
    """seed -> record for one arm, and a note when its configuration was chosen from several.
    `tried`: every record of the experiment, tuning runs included (for the tuning's resolution)."""
    groups = _by_group(r for r in records if arm == "best" or matches(r, arm, experiment))
    if not groups:
        return {}, f"no runs match arm {arm!r}"
    if len(groups) == 1:
        seeds = next(iter(groups.values()))
        return seeds, tuning_resolution(seeds, experiment, arm, tried or records)
    ranked = sorted(groups.items(), key=lambda item: _claim_mean_score(item[1], claim))
    group, seeds = ranked[0]
    note = f"{group} chosen from {len(groups)} configurations by mean {claim.metric}"
    rates = sorted({r["config"].get("learning_rate") for s in groups.values() for r in s.values()})
    chosen = next(iter(seeds.values()))["config"].get("learning_rate")
    if len(rates) > 2 and chosen in (rates[0], rates[-1]):
        note += f" (learning rate {chosen:g} at the grid's edge: a limit of this verdict)"
    return seeds, note


def tuning_resolution(seeds, experiment, arm, tried):
    """Where a tuned arm's chosen value sits among the values its tuning tried: interior, with the
    distance to its neighbours in decades (rates), or at an edge (a limit of the verdict)."""
    record = next(iter(seeds.values()))
    config, configuration = record["config"], record.get("configuration")
    notes = []
    for name in experiment.tune:
        values = sorted({r["config"][name] for r in tried if r.get("configuration") == configuration and name in r["config"]})
        chosen = config.get(name)
        if len(values) < 2 or chosen not in values:
            continue
        if chosen in (values[0], values[-1]):
            notes.append(f"{arm_name(arm)}: tuned {name} {chosen:g} at the edge of the {len(values)} values tried "
                         "(a limit of this verdict)")
            continue
        index = values.index(chosen)
        if all(isinstance(v, (int, float)) and v > 0 for v in values):
            step = max(math.log10(chosen / values[index - 1]), math.log10(values[index + 1] / chosen))
            notes.append(f"{arm_name(arm)}: tuned {name} {chosen:.3g}, interior, to {step:.2g} decade of {len(values)} values")
        else:
            notes.append(f"{arm_name(arm)}: tuned {name} {chosen:g}, interior of {len(values)} values")
    return "; ".join(notes)


def arm_name(arm):
    if arm == "best":
        return "best configuration"
    return ", ".join(f"{k}={v}" for k, v in arm.items())


