"""Runs a sweep's training runs as Ray tasks on an existing cluster (`--ray ADDRESS`): a task per
run, or per group of seeds trained stacked (experiments/sweeps/stacked_pool.py).

Each run trains into a temporary directory on whichever node Ray schedules it, and the task
returns that directory's files; the driver installs them in its own --logdir the way a local
run writes them (run_directory.install: everything, then record.json), so no shared file system is
needed and no half-written run ever appears there. A task whose node dies is retried on
another node (Ray's task retries); a run that raises is a `failed` record, as locally.

Ray is imported only here and only when a cluster is asked for.
"""

import importlib.util
import os
import shutil
import socket
import tempfile

from experiments.engine import run_directory
from experiments.sweeps import workers

# Ray reruns a task whose worker or node died this many times before giving up on it.
TASK_RETRIES = 3
PACKAGES = ("optimizers", "callbacks", "experiments")  # shipped to the cluster with the tasks


class ClusterError(Exception):
    """No Ray, or no cluster at the given address: one line, exit status 2."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError('--ray needs Ray, which is not installed: pip install -e ".[ray]"') from None
    return ray


_prepared = False


def train_on_node(function, runs, threads, verbose, engine=None):
    """The task: `function(runs, directory, verbose)` (a pool task: one run, or a group of seeds
    stacked) in a temporary directory; returns each run's (record, files)."""
    global _prepared
    if not _prepared:  # once per Ray worker process, which trains many runs
        # Runs sharing a GPU (--ray-gpus below 1) must not each claim all of its memory.
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        workers.prepare_process(threads, engine=engine)
        _prepared = True
    scratch = tempfile.mkdtemp(prefix="optimization-lab-run-")
    try:
        records = function(runs, scratch, verbose)
        return [(record, run_directory.pack(run.directory(scratch))) for run, record in zip(runs, records)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RayPool:
    """The local pools' interface (`map_runs(runs, logdir)` yielding `(run, record)`) over Ray."""

    def __init__(self, options, verbose=False, engine=None):
        ray = self._ray = import_ray()
        _check_reachable(options.address)
        try:
            # The driver's own packages go to the cluster with the tasks, so every node trains
            # with exactly this code, whatever is installed there.
            ray.init(
                address=options.address,
                runtime_env={"py_modules": _package_directories()},
                log_to_driver=verbose,
                logging_level="ERROR",
            )
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ClusterError(f"--ray {options.address}: cannot connect to a Ray cluster ({message})") from None
        self.options, self.verbose = options, verbose
        threads = max(1, int(options.cpus))
        self._task = ray.remote(train_on_node).options(
            num_cpus=options.cpus, num_gpus=options.gpus, max_retries=TASK_RETRIES, retry_exceptions=False
        )
        self._threads, self._engine = threads, engine
        self._pending = {}

    def map_runs(self, runs, logdir):
        yield from self.map_tasks([(workers.train_each, [run]) for run in runs], logdir)

    def map_tasks(self, tasks, logdir):
        """As the local pools' `map_tasks`: each task `(function, runs)` one Ray task."""
        ray = self._ray
        self._pending = {
            self._task.remote(function, runs, self._threads, self.verbose, self._engine): runs
            for function, runs in tasks
        }
        while self._pending:
            [ready], _ = ray.wait(list(self._pending), num_returns=1)
            runs = self._pending.pop(ready)
            try:
                results = ray.get(ready)
            except ray.exceptions.RayError as error:
                # Out of retries (every node that took it died) or cancelled: not written, so
                # the next invocation trains the runs again.
                for run in runs:
                    yield run, _lost_record(run, error)
                continue
            for run, (record, contents) in zip(runs, results):
                run_directory.install(contents, run.directory(logdir))
                yield run, record

    def running(self):
        """Tasks in flight (a run, or a group of seeds), at most what the cluster's resources allow at once."""
        resources = self._ray.cluster_resources()
        slots = int(resources.get("CPU", 0) // self.options.cpus) if self.options.cpus else len(self._pending)
        if self.options.gpus:
            slots = min(slots, int(resources.get("GPU", 0) // self.options.gpus))
        return min(len(self._pending), slots)

    def close(self):
        """Cancels what has not finished (Ctrl-C) and disconnects; the cluster keeps running."""
        # Not force=True: killing a worker whose task is just finishing can trip Ray 2.60's task
        # manager ("Tried to complete task that was not pending") and abort this process; a
        # KeyboardInterrupt in the task ends it the ordinary way, and its files stay on its node.
        for ref in self._pending:
            self._ray.cancel(ref, force=False)
        self._pending = {}
        self._ray.shutdown()


def _check_reachable(address, timeout=5.0):
    """HOST:PORT that nothing answers fails here in seconds; ray.init would retry for minutes."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray takes auto, HOST:PORT or ray://HOST:PORT; got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ClusterError(f"--ray {address}: no Ray cluster answers there ({error.strerror or error})") from None


def _package_directories():
    # Found, not imported: importing callbacks would import TensorFlow, which the driver never needs.
    return [importlib.util.find_spec(name).submodule_search_locations[0] for name in PACKAGES]


def _lost_record(run, error):
    reason = f"{type(error).__name__} on the Ray cluster: {error}".splitlines()[0][:300]
    return {
        "status": "failed",
        "reason": f"{reason} (not saved: the next run of the command retries it)",
        "metrics": {},
        "wall_time_s": 0.0,
        "experiment": run.experiment,
        "run_id": run.run_id,
        "group": run.group,
        "configuration": run.configuration,
        "stage": run.stage,
        "seed": run.config["seed"],
        "config": run.config,
    }


