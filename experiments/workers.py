"""Where runs execute: in this process, or in `jobs` worker processes that each import
TensorFlow once and train many runs, with the machine's cores split between them."""

import concurrent.futures
import multiprocessing
import os
import time
import traceback
import warnings

from experiments import outcomes, rundir
from experiments.cluster import this_node


def run_and_record(run, logdir, verbose=False, extra_callbacks=()):
    """Trains one planned run into its directory, config first and record last (rundir.py); a
    raising run becomes `failed`. `extra_callbacks` (Keras callbacks) run after the run's own."""
    from experiments.training import train_run

    run_dir = run.directory(logdir)
    started = time.perf_counter()
    rundir.write_config(run_dir, run.config)
    try:
        # Warnings (divergence, vanishing gradients...) go into the record, not over the
        # progress lines: the record's status and reason already say what happened.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = train_run(run.config, run_dir, verbose=2 if verbose else 0, callbacks=_with_extra(extra_callbacks))
        record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught if not _is_noise(w)})
    except Exception as error:  # noqa: BLE001 - a failed run is recorded; the sweep goes on
        rundir.write_error(run_dir, traceback.format_exc())
        record = {
            "status": "failed",
            "reason": f"{type(error).__name__}: {error}".splitlines()[0][:300],
            "metrics": {},
            "wall_time_s": time.perf_counter() - started,
        }
    record.update(
        experiment=run.experiment,
        run_id=run.run_id,
        group=run.group,
        configuration=run.configuration,
        stage=run.stage,
        seed=run.config["seed"],
        config=run.config,
        node=this_node(),
    )
    record = outcomes.with_outcome(record)  # ok / did_not_learn / diverged / failed
    rundir.write_record(run_dir, record)
    return record


def _with_extra(extra_callbacks):
    """The run's own callbacks (training.make_callbacks) followed by `extra_callbacks`, or the default."""
    if not extra_callbacks:
        return None
    from experiments.training import make_callbacks

    return lambda *args: [*make_callbacks(*args), *extra_callbacks]


def _is_noise(warning):
    # Keras's TF backend under numpy 2; says nothing about the run.
    return "__array__ implementation doesn't accept a copy keyword" in str(warning.message)


class SerialPool:
    def __init__(self, verbose=False):
        _prepare_process()
        self.verbose = verbose

    def map_runs(self, runs, logdir):
        for run in runs:
            yield run, run_and_record(run, logdir, self.verbose)

    def close(self):
        pass


def _prepare_process(threads=None):
    """TensorFlow imported quietly, Keras's progress bars off, and the cores this process may use."""
    from experiments.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import tensorflow as tf

    keras.utils.disable_interactive_logging()
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


class ProcessPool:
    """`jobs` spawned processes (not forked: TensorFlow's runtime does not survive a fork)."""

    def __init__(self, jobs, verbose=False):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        self.jobs, self.verbose = jobs, verbose
        self._futures = {}
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_process,
            initargs=(threads,),
        )

    def map_runs(self, runs, logdir):
        # Runs start as workers free up; the progress line names the finished ones.
        futures = {self._executor.submit(run_and_record, run, logdir, self.verbose): run for run in runs}
        self._futures = futures
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()

    def running(self):
        """Runs training now (the executor marks one more queued call as running)."""
        return min(self.jobs, sum(future.running() for future in self._futures))

    def close(self):
        self._executor.shutdown(wait=False, cancel_futures=True)


def make_pool(jobs, verbose=False):
    return SerialPool(verbose) if jobs == 1 else ProcessPool(jobs, verbose)
