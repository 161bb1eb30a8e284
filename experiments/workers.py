"""Where runs execute: in this process, or in `jobs` worker processes that each import
TensorFlow once and train many runs, with the machine's cores split between them."""

import concurrent.futures
import multiprocessing
import os
import time
import traceback
import warnings

from experiments import files, outcomes
from experiments.sweep import CONFIG_FILE, RECORD_FILE


def run_and_record(run, logdir, verbose=False, extra_callbacks=()):
    """Trains one planned run and writes its record atomically; a raising run becomes `failed`.
    `extra_callbacks` (Keras callbacks) run after the run's own (training.train_run)."""
    from experiments.training import train_run

    run_dir = run.directory(logdir)
    started = time.perf_counter()
    try:
        # Warnings (divergence, vanishing gradients...) go into the record, not over the
        # progress lines: the record's status and reason already say what happened.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = train_run(run.config, run_dir, extra_callbacks, verbose=2 if verbose else 0)
        record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught if not _is_noise(w)})
    except Exception as error:  # noqa: BLE001 - a failed run is recorded; the sweep goes on
        os.makedirs(run_dir, exist_ok=True)
        files.write_text_atomic(os.path.join(run_dir, "error.txt"), traceback.format_exc())
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
    )
    record = outcomes.with_outcome(record)  # ok / did_not_learn / diverged / failed
    # Written last, atomically: a run without record.json was interrupted and is redone.
    files.write_json_atomic(os.path.join(run_dir, RECORD_FILE), record)
    if not os.path.exists(os.path.join(run_dir, CONFIG_FILE)):
        files.write_json_atomic(os.path.join(run_dir, CONFIG_FILE), run.config)
    return record


def _is_noise(warning):
    # Keras's TF backend under numpy 2; says nothing about the run.
    return "__array__ implementation doesn't accept a copy keyword" in str(warning.message)


class SerialPool:
    def __init__(self, verbose=False):
        _prepare_process()
        self.verbose = verbose

    def map_runs(self, runs, logdir, on_start=None):
        for run in runs:
            if on_start:
                on_start(run)
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
        self.verbose = verbose
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_process,
            initargs=(threads,),
        )

    def map_runs(self, runs, logdir, on_start=None):
        # Runs start as workers free up; the progress line names the finished ones.
        futures = {self._executor.submit(run_and_record, run, logdir, self.verbose): run for run in runs}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()

    def close(self):
        self._executor.shutdown(wait=False, cancel_futures=True)


def make_pool(jobs, verbose=False):
    return SerialPool(verbose) if jobs == 1 else ProcessPool(jobs, verbose)
