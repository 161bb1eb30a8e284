"""Worker pools: which run a free worker gets, the process pool's records equal the serial ones,
and the command line's output into a closed pipe ends quietly."""

import os
import subprocess
import sys

from experiments.config.settings import resolve
from experiments.sweeps import workers
from experiments.sweeps.planning import PlannedRun

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(name, **settings):
    return PlannedRun("e", name, name, "final", resolve(settings))


def test_a_free_worker_gets_a_run_that_reuses_its_model_else_one_nobody_holds():
    task = lambda run: (workers.train_each, [run])  # noqa: E731
    a1, a2 = task(_run("a1", seed=1)), task(_run("a2", seed=2, learning_rate=0.5))  # one compiled model
    b1 = task(_run("b1", optimizer="sgd"))
    c1 = task(_run("c1", optimizer="rmsprop"))
    key = workers.task_key
    assert workers.pick_task([b1, a2, c1], key(a1), held_keys=set()) is a2
    assert workers.pick_task([b1, c1], key(a1), held_keys={key(b1)}) is c1
    assert workers.pick_task([b1], key(a1), held_keys={key(b1)}) is b1
    # A model the worker traced earlier beats one nobody traced, which beats another's.
    assert workers.pick_task([b1, c1], key(a1), own_keys={key(c1)}, held_keys=set()) is c1
    assert workers.pick_task([b1, c1], key(a1), own_keys=set(), held_keys={key(b1)}) is c1


def test_process_pool_records_equal_the_serial_ones(tmp_path):
    settings = {"epochs": 1, "limit": 120, "width": 4}
    runs = [_run(f"r{i}", seed=i % 2, optimizer=("sgd", "adam")[i // 2], **settings) for i in range(4)]
    serial = {run.run_id: record for run, record in workers.SerialPool().map_runs(runs, str(tmp_path / "serial"))}
    pool = workers.ProcessPool(2)
    try:
        parallel = {run.run_id: record for run, record in pool.map_runs(runs, str(tmp_path / "parallel"))}
    finally:
        pool.close()
    assert sorted(parallel) == sorted(serial) == sorted(run.run_id for run in runs)
    for run_id, record in serial.items():
        # One epoch of a 4-unit net need not learn: what matters is that both pools agree.
        assert parallel[run_id]["status"] == record["status"] in ("ok", "did_not_learn")
        assert parallel[run_id]["history"] == record["history"]


def test_dry_run_into_a_closed_pipe_ends_quietly():
    listing = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "experiments", "run.py"), "--dry-run", "--size", "full",
         "optimizers", "learning_rate", "batch_size", "momentum", "schedules"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    listing.stdout.readline()
    listing.stdout.close()  # what `| head -1` does
    stderr = listing.stderr.read().decode()
    listing.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
