"""Sweep throughput on a two-node Ray cluster against `--jobs 2`, on the same machine, and Ray's
per-run overhead.

    python benchmarks/ray_throughput.py [--experiment learning_rate] [--epochs 4] [--seeds 2] [--repeats 2]

Starts a token-authenticated cluster of two nodes with one CPU each on this machine
(experiments/sweeps/local_cluster.py), then runs the same sweep from scratch through the real command
line, interleaved: `--jobs 2` (two local worker processes) and `--ray ADDRESS` (two Ray nodes),
each in fresh log directories and its own process. Prints the wall times, the throughput ratio
(runs per second on Ray over runs per second with --jobs 2), whether every run's metrics are
identical, and Ray's overhead: the round trip of an empty task, the bytes a run sends back, and
the extra wall time per run of the whole Ray sweep. Both sides use the same two cores, so the
ratio measures Ray's cost, not its reach; on real machines each node adds its own cores.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from experiments.sweeps.local_cluster import LocalCluster  # noqa: E402

COMPARED = ["val_loss", "val_accuracy", "train_loss", "train_accuracy"]


def sweep(args, logdir, env, *pool):
    command = [sys.executable, os.path.join(REPO, "experiments", "run.py"), args.experiment, "--epochs",
               str(args.epochs), "--seeds", str(args.seeds), "--logdir", logdir, *pool]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - start
    runs = pd.read_csv(os.path.join(logdir, args.experiment, "runs.csv")).sort_values("run_id").set_index("run_id")
    return seconds, runs


def bytes_per_run(logdir, experiment):
    exp_dir = os.path.join(logdir, experiment)
    sizes = []
    for name in os.listdir(exp_dir):
        run_dir = os.path.join(exp_dir, name)
        if os.path.isdir(run_dir):
            sizes.append(sum(os.path.getsize(os.path.join(root, f)) for root, _, fs in os.walk(run_dir) for f in fs))
    return statistics.median(sizes)


def empty_task_round_trip(cluster, count=40):
    """Median seconds from submitting an empty task to having its result, one at a time."""
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=cluster.token)
    import ray

    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:
        empty = ray.remote(num_cpus=1)(lambda: None)
        ray.get(empty.remote())  # a worker started
        times = []
        for _ in range(count):
            start = time.perf_counter()
            ray.get(empty.remote())
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        ray.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="learning_rate")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    local_s, ray_s = [], []
    with LocalCluster(nodes=2, cpus_per_node=1) as cluster, tempfile.TemporaryDirectory() as tmp:
        env = cluster.driver_env()
        for repeat in range(args.repeats):
            seconds, local = sweep(args, os.path.join(tmp, f"jobs2-{repeat}"), env, "--jobs", "2")
            local_s.append(seconds)
            seconds, remote = sweep(args, os.path.join(tmp, f"ray-{repeat}"), env, "--ray", cluster.address)
            ray_s.append(seconds)
        sent = bytes_per_run(os.path.join(tmp, "ray-0"), args.experiment)
        round_trip = empty_task_round_trip(cluster)
    same_runs = list(local.index) == list(remote.index)
    difference = (local[COMPARED] - remote[COMPARED]).abs().max().max() if same_runs else float("nan")
    identical = same_runs and (local.status == remote.status).all() and not difference > 0
    local_median, ray_median = statistics.median(local_s), statistics.median(ray_s)
    runs = len(local)
    print(f"{args.experiment}: {runs} runs of {args.epochs} epochs; {os.cpu_count()} cores; {args.repeats} interleaved repeat(s)")
    print(f"  --jobs 2:              {local_median:6.1f} s  (each: {', '.join(f'{s:.1f}' for s in local_s)})")
    print(f"  --ray, 2 nodes x 1 CPU: {ray_median:6.1f} s  (each: {', '.join(f'{s:.1f}' for s in ray_s)})")
    print(f"  throughput Ray / --jobs 2: {local_median / ray_median:.2f}x")
    print(f"  results identical: {'yes' if identical else 'NO'} (largest metric difference {difference:.3g})")
    print(f"  Ray per-run overhead: empty-task round trip {1e3 * round_trip:.1f} ms; a run's files "
          f"{sent / 1024:.0f} KiB back to the driver; whole sweep {(ray_median - local_median) / runs:+.2f} s per run")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
