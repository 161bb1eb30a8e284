"""Training runs of the project's MLP from inside an experiment of another kind.

Experiments such as `hyperparameter_importance` or `shuffle_order` are made of ordinary
training runs, but choose and analyse them themselves. They describe each run by its settings;
a `TrainingRuns`, which the runner hands to the kind, trains those not done yet on the command
line's pool (`--jobs`, `--ray`) or in this process, through the same path as a sweep
(`experiments.sweeps.workers.run_and_record`: resolved config saved, `failed` recorded, record
written atomically last), so a rerun resumes and a finished run is never trained twice.
"""

import os
import sys

from experiments.config.settings import resolve
from experiments.data import datasets
from experiments.evidence import pairing
from experiments.evidence.claims import value
from experiments.outputs import figures, files, hparams_sessions, run_tables
from experiments.sweeps import execution, planning, workers
from experiments.sweeps.progress import Progress

# What the command line asks of every run and a kind's runs take too: the data, the network, the
# backend, a smaller data set. The kind's own design (what it varies) is left alone.
SHARED_SETTINGS = ("dataset", "model", "input_scaling", "limit", "backend")


class TrainingRuns:
    """The runs of one kind's experiment in `exp_dir`, trained on `pool` (the sweep's workers or
    Ray cluster; None: in this process) with the command line's `overrides` of SHARED_SETTINGS."""

    def __init__(self, exp_dir, pool=None, overrides=None, out=None):
        self.exp_dir, self.pool, self.out = exp_dir, pool, out
        self.overrides = {k: v for k, v in (overrides or {}).items() if k in SHARED_SETTINGS}

    def planned(self, run_id, settings, group, configuration=None, stage="final"):
        """A `planning.PlannedRun` for one run of this experiment; `settings` are validated."""
        return planning.PlannedRun(
            experiment=os.path.basename(os.path.normpath(self.exp_dir)),
            group=group,
            run_id=run_id,
            stage=stage,
            config=resolve({**settings, **self.overrides}),
            configuration=configuration or group,
        )

    def train(self, runs, callbacks_for=None):
        """Trains the planned `runs` not done yet; returns every run's record, in order.
        `callbacks_for(run)`, if given, returns extra Keras callbacks for a run (a new list each call)."""
        # exp_dir is <logdir>/<experiment>, or <logdir>/<data set>/<experiment> off digits (planning.experiment_dir).
        logdir = os.path.dirname(os.path.normpath(self.exp_dir))
        used = {run.config["dataset"] for run in runs}
        if used and used != {datasets.DEFAULT_DATASET}:
            logdir = os.path.dirname(logdir)
        progress = Progress(len(runs), self.out or sys.stdout)
        # Extra callbacks are objects of this process: those runs train here, one after another.
        pool = self.pool if self.pool is not None and callbacks_for is None else _CallbackPool(callbacks_for)
        return execution.execute(runs, logdir, pool, progress)

    def train_arms(self, arms, seeds, callbacks_for=None):
        """`arms` = {label: settings}; every arm on seeds 0..seeds-1 (seed s: the same initialization
        in every arm). Returns {label: [record per seed]}."""
        runs = [
            self.planned(f"{label}_seed{seed}", {**settings, "seed": seed}, group=label)
            for label, settings in arms.items()
            for seed in range(seeds)
        ]
        records = self.train(runs, callbacks_for)
        by_arm = {label: [] for label in arms}
        for run, record in zip(runs, records):
            by_arm[run.group].append(record)
        return by_arm


class _CallbackPool:
    """workers.SerialPool, with extra callbacks per run."""

    def __init__(self, callbacks_for):
        self._pool = workers.SerialPool()
        self.callbacks_for = callbacks_for

    def map_runs(self, runs, logdir):
        if self.callbacks_for is None:
            yield from self._pool.map_runs(runs, logdir)
            return
        for run in runs:
            yield run, workers.run_and_record(run, logdir, extra_callbacks=self.callbacks_for(run))


def write_outputs(exp_dir, records, varied, title):
    """runs.csv, the per-configuration table, curves.png and the aggregated HParams sessions;
    returns (table, figure names)."""
    runs = run_tables.runs_table(records, varied)
    files.write_csv_atomic(os.path.join(exp_dir, "runs.csv"), runs)
    summary = run_tables.summary_table(runs, varied)
    figures.plot_curves(records, os.path.join(exp_dir, figures.CURVES_FILE), title)
    hparams_sessions.write_session_groups(exp_dir, records)
    return run_tables.configuration_table(summary, varied), [figures.CURVES_FILE]


def per_seed(records, metric):
    """{seed: the record's final `metric`}, None where the run diverged or failed (no usable
    value; experiments/evidence/claims.py drops such pairs the same way). A run that did not learn keeps
    its (bad) value."""
    return {record["config"]["seed"]: value(record, metric) for record in records}


def paired_differences(first, second, metric):
    """metric(first) - metric(second) per seed, pairing asserted (experiments.evidence.pairing.pair);
    pairs where either run has no value are left out."""
    a = {r["config"]["seed"]: r for r in first}
    b = {r["config"]["seed"]: r for r in second}
    values = []
    for seed, x, y in pairing.pair(a, b):
        vx, vy = per_seed([x], metric)[seed], per_seed([y], metric)[seed]
        if vx is not None and vy is not None:
            values.append(vx - vy)
    return values
