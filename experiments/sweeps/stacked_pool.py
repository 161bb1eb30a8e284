"""The default engine: a pool that trains the seeds of each configuration as one stacked model
(experiments/engine/stacked/), on the pool under it: this process, `jobs` worker processes (a
group per worker at a time, as `workers.ProcessPool` hands out runs; a worker keeps its stacked
models across groups) or a Ray cluster (a group per task). `--no-stack-seeds` does without it.

Runs whose configs differ only in the seed form one group; a group of two or more seeds is one
task, `train_group`, up to `max_members` seeds at a time. The process that trains it decides
whether the stacked path takes it (`stacked.check_stackable`, and the model's layers): a group
it refuses is trained run by run there, as the serial pool would. Each member's run directory
gets what `workers.run_and_record` writes: config.json first, the member's HParams, epoch curves
and metrics.jsonl, then record.json last, with the same fields (experiment, run_id, group,
configuration, stage, seed, config, node, warnings, outcome). A group that raises while it
trains is recorded as failed, run by run, like a raising run.
"""

import json
import time
import traceback
import warnings

from experiments.engine import run_directory
from experiments.sweeps import workers

DEFAULT_MAX_MEMBERS = 32


def group_key(config):
    return json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True)


def stacked_tasks(runs, max_members=DEFAULT_MAX_MEMBERS):
    """The pool's tasks for `runs`: `(train_group, members)` per group of seeds (at most
    `max_members`), `(workers.train_each, [run])` for a run alone in its group."""
    groups = {}
    for run in runs:
        groups.setdefault(group_key(run.config), []).append(run)
    tasks = []
    for members in groups.values():
        if len(members) == 1 or not members[0].stackable:
            tasks.extend((workers.train_each, [run]) for run in members)
            continue
        for start in range(0, len(members), max_members):
            tasks.append((train_group, members[start : start + max_members]))
    return tasks


def train_group(members, logdir, verbose=False):
    """Records of `members` (runs that differ only in their seed): one stacked model, or one
    run at a time where the stacked path refuses them."""
    from experiments.engine import stacked, training

    try:
        stacked.check_stackable(members[0].config, [run.config["seed"] for run in members])
    except stacked.NotStackable:
        return workers.train_each(members, logdir, verbose)
    directories = [run.directory(logdir) for run in members]
    for run, directory in zip(members, directories):
        run_directory.write_config(directory, run.config)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # `--no-model-reuse` (training.configure): a new stacked model per group too.
            cache = stacked.fresh_groups() if training.COMPILED_MODELS is None else None
            seeds = [run.config["seed"] for run in members]
            records = stacked.train_stacked(members[0].config, seeds, run_dirs=directories, verbose=verbose, cache=cache)
        noted = sorted({f"{w.category.__name__}: {w.message}" for w in caught if not workers.is_noise_warning(w)})
    except stacked.NotStackable:  # a layer the stacked model does not take; found before training
        return workers.train_each(members, logdir, verbose)
    except Exception as error:  # noqa: BLE001 - a failed group is recorded; the sweep goes on
        text = traceback.format_exc()
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        wall = (time.perf_counter() - started) / len(members)
        records = [{"status": "failed", "reason": reason, "metrics": {}, "wall_time_s": wall} for _ in members]
        for directory in directories:
            run_directory.write_error(directory, text)
        noted = None
    finished = []
    for run, directory, record in zip(members, directories, records):
        if noted is not None:
            record["warnings"] = noted
        record = workers.finished_record(run, record)
        run_directory.write_record(directory, record)
        finished.append(record)
    return finished


class StackedPool:
    """Trains groups of seeds stacked, on `pool` (a `workers` pool: serial or processes)."""

    def __init__(self, pool, max_members=DEFAULT_MAX_MEMBERS):
        self.pool, self.max_members = pool, max_members

    def map_runs(self, runs, logdir):
        yield from self.pool.map_tasks(stacked_tasks(runs, self.max_members), logdir)

    def running(self):
        return self.pool.running() if hasattr(self.pool, "running") else 0

    def close(self):
        self.pool.close()
