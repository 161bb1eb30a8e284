"""The run directory, `<logdir>/<experiment>/<run_id>/`: what a run writes there, in which order,
and when a run counts as done. Everything that writes or reads a run directory goes through here.

    config.json    the resolved settings, written before training
    metrics.jsonl  one line per epoch, flushed as it goes (callbacks.MetricsFile)
    train/, validation/, events at the top: TensorBoard (scalars, HParams)
    error.txt      the traceback of a run that raised
    record.json    status, reason, metrics, history: written last, atomically

A run is done when its record.json exists and holds the same config (a setting added since then
taking its default): a directory without one was interrupted, and is cleared and trained again. Both files are strict JSON (files.py).
"""

import os
import shutil
import tempfile

from experiments.outputs import files

CONFIG_FILE = "config.json"
RECORD_FILE = "record.json"
METRICS_FILE = "metrics.jsonl"
ERROR_FILE = "error.txt"


def write_config(run_dir, config):
    files.write_json_atomic(os.path.join(run_dir, CONFIG_FILE), config)


def write_record(run_dir, record):
    """Written last: its presence is what marks the run done."""
    files.write_json_atomic(os.path.join(run_dir, RECORD_FILE), record)


def write_error(run_dir, text):
    files.write_text_atomic(os.path.join(run_dir, ERROR_FILE), text)


def read_record(run_dir):
    return files.read_json(os.path.join(run_dir, RECORD_FILE))


def is_done(run_dir, config):
    """Whether the run has a record of this config. A setting added since the record was written
    counts as its default there (new settings default to the old behaviour), so adding one does
    not retrain every run already done."""
    record = read_record(run_dir)
    if record is None or not isinstance(record.get("config"), dict):
        return False
    from experiments.config.settings import SETTINGS

    stored = record["config"]
    added = {k: SETTINGS[k].default for k in config if k not in stored and k in SETTINGS}
    return {**stored, **added} == config


def clear(run_dir):
    """Removes what an interrupted run left (partial event files), so it starts clean."""
    shutil.rmtree(run_dir, ignore_errors=True)


def pack(run_dir):
    """Every file of a finished run directory as {path relative to it: contents}."""
    contents = {}
    for root, _, names in os.walk(run_dir):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                contents[os.path.relpath(path, run_dir)] = f.read()
    return contents


def install(contents, run_dir):
    """Puts a run directory that `pack` produced elsewhere (another machine) at `run_dir`, so
    that no reader ever sees part of it: every file but the record goes into a temporary
    directory beside `run_dir`, which is renamed into place; then the record, atomically."""
    if RECORD_FILE not in contents:
        raise ValueError(f"a run directory without {RECORD_FILE} is not a finished run")
    parent = os.path.dirname(os.path.abspath(run_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".incoming-")
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700, made what os.makedirs would give
        for relative, data in contents.items():
            if relative == RECORD_FILE:
                continue
            path = os.path.normpath(os.path.join(staging, relative))
            if not path.startswith(staging + os.sep):
                raise ValueError(f"refusing a file outside the run directory: {relative!r}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        clear(run_dir)
        os.rename(staging, run_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files.write_bytes_atomic(os.path.join(run_dir, RECORD_FILE), contents[RECORD_FILE])


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
