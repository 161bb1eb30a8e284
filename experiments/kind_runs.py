"""Training runs of the project's MLP from inside an experiment of another kind.

Experiments such as `hyperparameter_importance` or `shuffle_order` are made of ordinary
training runs, but choose and analyse them themselves. They describe each run by its settings;
this module trains those not done yet, one after another, through the same path as a sweep
(`experiments.workers.run_and_record`: resolved config saved, `failed` recorded, record written
atomically last), so a rerun resumes and a finished run is never trained twice.
"""

import os
import sys

from experiments import sweep
from experiments.settings import resolve


def planned(exp_dir, run_id, settings, group, configuration=None, stage="final"):
    """A `sweep.PlannedRun` for one run of `exp_dir`'s experiment; `settings` are validated."""
    return sweep.PlannedRun(
        experiment=os.path.basename(os.path.normpath(exp_dir)),
        group=group,
        run_id=run_id,
        stage=stage,
        config=resolve(settings),
        configuration=configuration or group,
    )


def train(exp_dir, runs, out=None):
    """Trains the planned `runs` not done yet; returns every run's record, in order."""
    from experiments.workers import SerialPool

    logdir = os.path.dirname(os.path.normpath(exp_dir))
    progress = sweep.Progress(len(runs), out or sys.stdout)
    return sweep.execute(runs, logdir, SerialPool(), progress)
