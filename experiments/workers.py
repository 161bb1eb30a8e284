"""Where runs execute: in this process, or in `jobs` worker processes that each import
TensorFlow once and train many runs, with the machine's cores split between them.

A worker keeps compiled models alive across its runs (experiments/run_cache.py), so each worker
is handed, when it frees up, a run that can reuse the model it trained last, and otherwise one
whose model no other worker holds: each architecture and optimizer is traced by as few workers
as possible.
"""

import concurrent.futures
import multiprocessing
import os
import sys
import time
import traceback
import warnings

from experiments import files
from experiments.run_cache import compiled_key
from experiments.sweep import CONFIG_FILE, RECORD_FILE


def run_and_record(run, logdir, verbose=False):
    """Trains one planned run and writes its record atomically; a raising run becomes `failed`."""
    from experiments.training import train_run

    run_dir = run.directory(logdir)
    started = time.perf_counter()
    try:
        # Warnings (divergence, vanishing gradients...) go into the record, not over the
        # progress lines: the record's status and reason already say what happened.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = train_run(run.config, run_dir, verbose=2 if verbose else 0)
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
    # Written last, atomically: a run without record.json was interrupted and is redone.
    files.write_json_atomic(os.path.join(run_dir, RECORD_FILE), record)
    if not os.path.exists(os.path.join(run_dir, CONFIG_FILE)):
        files.write_json_atomic(os.path.join(run_dir, CONFIG_FILE), run.config)
    return record


def _is_noise(warning):
    # Keras's TF backend under numpy 2; says nothing about the run.
    return "__array__ implementation doesn't accept a copy keyword" in str(warning.message)


class SerialPool:
    def __init__(self, verbose=False, backend=None):
        _prepare_process(backend=backend)
        self.verbose = verbose

    def map_runs(self, runs, logdir, on_start=None):
        for run in runs:
            if on_start:
                on_start(run)
            yield run, run_and_record(run, logdir, self.verbose)

    def close(self):
        pass


def _prepare_process(threads=None, backend=None):
    """Keras on `backend` (None: KERAS_BACKEND, else TensorFlow) and TensorFlow imported quietly,
    Keras's progress bars off, and the cores this process may use."""
    if backend is not None:
        select_backend(backend)
    from experiments.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import tensorflow as tf

    keras.utils.disable_interactive_logging()
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


class ProcessPool:
    """`jobs` spawned processes (not forked: TensorFlow's runtime does not survive a fork), one
    executor each, so that the pool chooses which worker trains which run."""

    def __init__(self, jobs, verbose=False, backend=None):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        self.verbose = verbose
        context = multiprocessing.get_context("spawn")
        self._workers = [
            concurrent.futures.ProcessPoolExecutor(
                1, context, initializer=_prepare_process, initargs=(threads, backend)
            )
            for _ in range(jobs)
        ]
        for worker in self._workers:  # start them now: TensorFlow's import overlaps the planning
            worker.submit(int)
        self._last_keys = [None] * jobs

    def map_runs(self, runs, logdir, on_start=None):
        # Runs start as workers free up; the progress line names the finished ones.
        pending = list(runs)
        running = {}
        for index in range(min(len(self._workers), len(pending))):
            self._submit(index, pending, running, logdir)
        while running:
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                index, run = running.pop(future)
                if pending:
                    self._submit(index, pending, running, logdir)
                yield run, future.result()

    def _submit(self, index, pending, running, logdir):
        held = {self._last_keys[i] for i, _ in running.values()}
        run = pick_run(pending, self._last_keys[index], held)
        pending.remove(run)
        self._last_keys[index] = compiled_key(run.config)
        running[self._workers[index].submit(run_and_record, run, logdir, self.verbose)] = (index, run)

    def close(self):
        for worker in self._workers:
            worker.shutdown(wait=False, cancel_futures=True)


def pick_run(pending, last_key, held_keys):
    """The next run for a worker that last trained a model of `last_key`: one of the same key
    if any, else one whose key no busy worker holds, else the first pending run."""
    keys = [compiled_key(run.config) for run in pending]
    for wanted in (lambda key: key == last_key, lambda key: key not in held_keys):
        for run, key in zip(pending, keys):
            if wanted(key):
                return run
    return pending[0]


def make_pool(jobs, verbose=False, backend=None):
    return SerialPool(verbose, backend) if jobs == 1 else ProcessPool(jobs, verbose, backend)


def select_backend(backend):
    """Keras reads KERAS_BACKEND once, when first imported: set it before, or fail clearly."""
    if "keras" in sys.modules:
        running = sys.modules["keras"].backend.backend()
        if running != backend:
            raise RuntimeError(
                f"backend={backend!r} asked for, but Keras already runs on {running!r} in this process; "
                f"set KERAS_BACKEND={backend} before starting it, or use --jobs 2 or more"
            )
    os.environ["KERAS_BACKEND"] = backend
