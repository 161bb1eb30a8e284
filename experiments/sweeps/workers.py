"""Where runs execute: in this process, or in `jobs` worker processes that each import
TensorFlow once and train many runs, with the machine's cores split between them.

A worker keeps compiled models alive across its runs (experiments/engine/compiled_models.py), so each worker
is handed, when it frees up, a run that can reuse the model it trained last, and otherwise one
whose model no other worker holds: each architecture and optimizer is traced by as few workers
as possible.
"""

import concurrent.futures
import multiprocessing
import os
import platform
import sys
import time
import traceback
import warnings

from experiments.engine import compiled_models, outcomes, run_directory
from experiments.engine.compiled_models import compiled_key
from experiments.outputs import files


def this_node():
    """Where this process runs: the host, and under Ray the node's id (two nodes may share a host)."""
    node = {"host": platform.node()}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        node["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return node


def run_and_record(run, logdir, verbose=False, extra_callbacks=()):
    """Trains one planned run into its directory, config first and record last (run_directory.py); a
    raising run becomes `failed`. `extra_callbacks` (Keras callbacks) run after the run's own.
    A failed write (a full disk) is not the run's failure: it raises files.WriteError, and the
    run, left without a record, is trained again by the next command."""
    run_dir = run.directory(logdir)
    try:
        return _train_and_record(run, run_dir, verbose, extra_callbacks)
    except Exception as error:
        cause = files.write_failure(error)
        if cause is None:
            raise
        raise files.WriteError(cause, run_dir) from None


def _train_and_record(run, run_dir, verbose, extra_callbacks):
    from experiments.engine.training import train_run

    started = time.perf_counter()
    run_directory.write_config(run_dir, run.config)
    try:
        # Warnings (divergence, vanishing gradients...) go into the record, not over the
        # progress lines: the record's status and reason already say what happened.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = train_run(run.config, run_dir, verbose=2 if verbose else 0, callbacks=_with_extra(extra_callbacks))
        record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught if not is_noise_warning(w)})
    except Exception as error:  # noqa: BLE001 - a failed run is recorded; the sweep goes on
        if files.write_failure(error):
            raise
        run_directory.write_error(run_dir, traceback.format_exc())
        record = {
            "status": "failed",
            "reason": f"{type(error).__name__}: {error}".splitlines()[0][:300],
            "metrics": {},
            "wall_time_s": time.perf_counter() - started,
        }
    record = finished_record(run, record)
    run_directory.write_record(run_dir, record)
    return record


def finished_record(run, record):
    """`record` with the run's identity (experiment, ids, stage, seed, config, node) and its
    outcome (ok / did_not_learn / diverged / failed): what record.json holds."""
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
    return outcomes.with_outcome(record)


def _with_extra(extra_callbacks):
    """The run's own callbacks (training.make_callbacks) followed by `extra_callbacks`, or the default."""
    if not extra_callbacks:
        return None
    from experiments.engine.training import make_callbacks

    return lambda *args: [*make_callbacks(*args), *extra_callbacks]


def is_noise_warning(warning):
    # Keras's TF backend under numpy 2; says nothing about the run.
    return "__array__ implementation doesn't accept a copy keyword" in str(warning.message)


def train_each(runs, logdir, verbose=False):
    """A pool's task (`map_tasks`): each of `runs` on its own, in order; their records."""
    return [run_and_record(run, logdir, verbose) for run in runs]


def task_key(task):
    """Tasks with equal keys can share a worker's compiled models: the function and the key of
    its first run's compiled model (experiments/engine/compiled_models.py)."""
    function, runs = task
    return f"{function.__module__}.{function.__name__}:{compiled_key(runs[0].config)}"


class SerialPool:
    def __init__(self, verbose=False, backend=None, engine=None):
        prepare_process(backend=backend, engine=engine)
        self.verbose = verbose

    def map_runs(self, runs, logdir):
        yield from self.map_tasks([(train_each, [run]) for run in runs], logdir)

    def map_tasks(self, tasks, logdir):
        """Runs each task `(function, runs)`, `function(runs, logdir, verbose)` returning the
        runs' records; yields `(run, record)` pairs."""
        for function, runs in tasks:
            yield from zip(runs, function(runs, logdir, self.verbose))

    def close(self):
        pass


def prepare_process(threads=None, backend=None, engine=None):
    """Keras on `backend` (None: KERAS_BACKEND, else TensorFlow) and TensorFlow imported quietly,
    Keras's progress bars off, the cores this process may use, and how it trains (`engine`,
    config.options.EngineOptions; None leaves the default)."""
    if backend is not None:
        select_backend(backend)
    from experiments.engine.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import tensorflow as tf

    keras.utils.disable_interactive_logging()
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    if engine is not None:
        from experiments.engine import training

        training.configure(engine)


class ProcessPool:
    """`jobs` spawned processes (not forked: TensorFlow's runtime does not survive a fork), one
    executor each, so that the pool chooses which worker trains which run."""

    def __init__(self, jobs, verbose=False, backend=None, engine=None):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        self.jobs, self.verbose = jobs, verbose
        context = multiprocessing.get_context("spawn")
        self._workers = [
            concurrent.futures.ProcessPoolExecutor(
                1, context, initializer=prepare_process, initargs=(threads, backend, engine)
            )
            for _ in range(jobs)
        ]
        for worker in self._workers:  # start them now: TensorFlow's import overlaps the planning
            worker.submit(int)
        # Per worker, the keys of the compiled models it holds, oldest first: mirrors its
        # least-recently-used cache (compiled_models.CompiledModels); the last is its last task's.
        self._cached_keys = [{} for _ in range(jobs)]
        self._running = {}

    def map_runs(self, runs, logdir):
        yield from self.map_tasks([(train_each, [run]) for run in runs], logdir)

    def map_tasks(self, tasks, logdir):
        """As SerialPool.map_tasks, a task per worker at a time; `function` must be picklable
        (a module's top-level function)."""
        # Tasks start as workers free up; the progress line names the finished runs.
        pending = list(tasks)
        running = self._running = {}
        for index in range(min(len(self._workers), len(pending))):
            self._submit(index, pending, running, logdir)
        while running:
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                index, (_, runs) = running.pop(future)
                if pending:
                    self._submit(index, pending, running, logdir)
                yield from zip(runs, future.result())

    def _submit(self, index, pending, running, logdir):
        held = set().union(*(keys for i, keys in enumerate(self._cached_keys) if i != index))
        own = self._cached_keys[index]
        task = pick_task(pending, next(reversed(own), None), own, held)
        pending.remove(task)
        key = task_key(task)
        own.pop(key, None)
        own[key] = None
        while len(own) > compiled_models.CAPACITY:
            own.pop(next(iter(own)))
        function, runs = task
        running[self._workers[index].submit(function, runs, logdir, self.verbose)] = (index, task)

    def running(self):
        """Tasks handed to a worker and not finished: one per worker at most. (A task just
        handed over counts before its executor marks it running.)"""
        return sum(not future.done() for future in self._running)

    def close(self):
        for worker in self._workers:
            worker.shutdown(wait=False, cancel_futures=True)


def pick_task(pending, last_key, own_keys=(), held_keys=()):
    """The next task for a worker whose last task had `last_key` (`task_key`) and whose cache
    holds `own_keys`, while other workers hold `held_keys`: one of the same key if any, else
    one whose compiled model the worker holds, else one whose key no worker holds, else the
    first pending task (a second trace of a model rather than an idle worker)."""
    keys = [task_key(task) for task in pending]
    wanted_in_order = (
        lambda key: key == last_key,
        lambda key: key in own_keys,
        lambda key: key not in held_keys,
    )
    for wanted in wanted_in_order:
        for task, key in zip(pending, keys):
            if wanted(key):
                return task
    return pending[0]


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
