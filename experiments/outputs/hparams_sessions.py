"""TensorBoard HParams: one session per configuration with its seeds aggregated.

Every run already logs its own hyperparameters (`training.write_hparams`, seed included), so
the HParams dashboard shows one row per seed. TensorBoard does not average seeds itself
(tensorboard issue 2464), so for each configuration (a run `group`) this writes one more
session, in `<exp_dir>/hparams_groups/<group>/`:

    hparams:  the configuration's settings (those shared by its runs; no `seed`),
              plus `aggregate = "mean over seeds"`, so these rows never merge with the per-seed ones
    metrics:  <metric>/mean and <metric>/std over the runs that finished `ok` (std with
              ddof=1; NaN for a single seed), seeds/ok and seeds/total, at step 0

Runs that diverged, failed or did not learn are counted in seeds/total, never averaged in.
A rerun replaces the previous groups rather than adding a second set.

The whole suite (`tensorboard --logdir logs`) gets one declaration at the top of the log
directory (`write_suite_experiment`): its columns are `experiment`, `aggregate`, `outcome` and
the settings whose values differ somewhere in the suite; a setting every run holds at the same
value is not a column. Without it TensorBoard offers every setting of every run.
"""

import math
import os
import re
import shutil
import time

import numpy as np

GROUPS_DIR = "hparams_groups"
AGGREGATE = "mean over seeds"

SESSION_METRICS = ("val_loss", "val_accuracy", "train_loss", "train_accuracy")  # shown per configuration
SUITE_FILE_SUFFIX = "suite"  # the top-level declaration's event file: events.out.tfevents.<time>.suite
RECORD_FILE = "record.json"
# The per-run scalars (Keras's TensorBoard callback) and the groups' aggregates, as HParams columns.
RUN_METRICS = (("epoch_loss", "validation"), ("epoch_accuracy", "validation"), ("epoch_loss", "train"))


def _directory_name(group):
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", group) or "base"


def _hparam_value(value):
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def group_sessions(records, metrics=SESSION_METRICS):
    """{group: (hparams, {tag: value})} from run records (dicts with group, config, status, metrics)."""
    by_group = {}
    for record in records:
        if record.get("config") is not None:
            by_group.setdefault(record["group"], []).append(record)
    sessions = {}
    for group, runs in by_group.items():
        shared = {
            key: value
            for key, value in runs[0]["config"].items()
            if key != "seed" and all(r["config"].get(key) == value for r in runs)
        }
        hparams = {key: _hparam_value(value) for key, value in shared.items() if value is not None}
        hparams.update(group=group, aggregate=AGGREGATE, experiment=runs[0].get("experiment", ""))
        ok = [r for r in runs if r.get("status") == "ok"]
        values = {"seeds/ok": float(len(ok)), "seeds/total": float(len(runs))}
        for metric in metrics:
            finite = [
                float(v) for r in ok if (v := (r.get("metrics") or {}).get(metric)) is not None and math.isfinite(v)
            ]
            values[f"{metric}/mean"] = float(np.mean(finite)) if finite else math.nan
            values[f"{metric}/std"] = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
        sessions[group] = (hparams, values)
    return sessions


def write_session_groups(exp_dir, records, metrics=SESSION_METRICS):
    """Writes one aggregated HParams session per configuration; returns their directory.

    Through TensorBoard's own summary constructors and record framing, which need no
    TensorFlow: the sweep's main process never imports it (~3-4 s of CPU per command).
    """
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams.summary_v2 import hparams_pb
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb
    from tensorboard.summary.writer.record_writer import RecordWriter  # pure Python framing

    root = os.path.join(exp_dir, GROUPS_DIR)
    shutil.rmtree(root, ignore_errors=True)
    for group, (hparams, values) in group_sessions(records, metrics).items():
        directory = os.path.join(root, _directory_name(group))
        os.makedirs(directory)
        summaries = [hparams_pb(hparams, trial_id=f"{group} ({AGGREGATE})")]
        summaries += [scalar_pb(tag, value) for tag, value in values.items()]
        # TensorBoard reads every file whose name holds "tfevents" as an event file.
        with open(os.path.join(directory, f"events.out.tfevents.{int(time.time())}.{GROUPS_DIR}"), "wb") as f:
            records = RecordWriter(f)
            records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
            for summary in summaries:
                records.write(event_pb2.Event(wall_time=time.time(), step=0, summary=summary).SerializeToString())
    return root


def varied_settings(configs):
    """The settings whose values differ between `configs` (a setting missing counts as a value)."""
    keys = sorted(set().union(*configs)) if configs else []
    return [key for key in keys if len({repr(config.get(key)) for config in configs}) > 1]


def write_suite_experiment(logdir):
    """Declares the suite's HParams columns at the top of `logdir`; returns the event file's path."""
    import json

    from tensorboard.plugins.hparams import summary_v2 as hp  # not hparams.api: that one imports TensorFlow

    configs = []
    for directory, _, names in os.walk(logdir):
        if RECORD_FILE in names:
            with open(os.path.join(directory, RECORD_FILE)) as f:
                record = json.load(f)
            if isinstance(record.get("config"), dict):
                configs.append(record["config"])
    hparams = [hp.HParam("experiment"), hp.HParam("aggregate"), hp.HParam("outcome")]
    hparams += [hp.HParam(name) for name in varied_settings(configs)]
    metrics = [hp.Metric(tag, group=group) for tag, group in RUN_METRICS]
    metrics += [hp.Metric(f"{metric}/mean") for metric in SESSION_METRICS] + [hp.Metric("seeds/ok")]
    summary = hp.hparams_config_pb(hparams=hparams, metrics=metrics)
    return _write_events(logdir, [summary], SUITE_FILE_SUFFIX)


def _write_events(directory, summaries, suffix):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter  # pure Python framing

    for name in os.listdir(directory):  # one declaration, the latest
        if name.startswith("events.out.tfevents.") and name.endswith(f".{suffix}"):
            os.remove(os.path.join(directory, name))
    path = os.path.join(directory, f"events.out.tfevents.{int(time.time())}.{suffix}")
    with open(path, "wb") as f:
        records = RecordWriter(f)
        records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        for summary in summaries:
            records.write(event_pb2.Event(wall_time=time.time(), step=0, summary=summary).SerializeToString())
    return path
