"""A sweep of small runs with --jobs 2 against --jobs 1.

    python benchmarks/sweep_parallel.py [--experiment learning_rate] [--epochs 4] [--seeds 5]

Runs the same sweep twice from scratch, in fresh log directories, through the real command line
(`python experiments/run.py EXPERIMENT --jobs N`), each in its own process so both pay the same
start-up; prints the wall times, the speed-up and whether every run's metrics are identical.
Target: --jobs 2 at least 1.8x faster, results identical (issue 12). 5 seeds: the default the
evidence needs; each worker's start-up (importing TensorFlow, ~3-4 s) is paid once per sweep.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import pandas as pd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 1.8
COMPARED = ["status", "val_loss", "val_accuracy", "train_loss", "train_accuracy"]


def sweep(experiment, jobs, epochs, seeds, logdir):
    command = [sys.executable, os.path.join(REPO, "experiments", "run.py"), experiment, "--jobs", str(jobs),
               "--epochs", str(epochs), "--seeds", str(seeds), "--logdir", logdir]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    runs = pd.read_csv(os.path.join(logdir, experiment, "runs.csv")).sort_values("run_id").set_index("run_id")
    return seconds, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="learning_rate")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial_s, serial = sweep(args.experiment, 1, args.epochs, args.seeds, os.path.join(tmp, "jobs1"))
        parallel_s, parallel = sweep(args.experiment, 2, args.epochs, args.seeds, os.path.join(tmp, "jobs2"))
    speedup = serial_s / parallel_s
    same_runs = list(serial.index) == list(parallel.index)
    difference = (serial[COMPARED[1:]] - parallel[COMPARED[1:]]).abs().max().max() if same_runs else float("nan")
    identical = same_runs and (serial.status == parallel.status).all() and difference == 0
    print(f"{args.experiment}: {len(serial)} runs of {args.epochs} epochs on {os.cpu_count()} cores")
    print(f"  --jobs 1: {serial_s:6.1f} s")
    print(f"  --jobs 2: {parallel_s:6.1f} s   speed-up {speedup:.2f}x "
          f"(target >= {TARGET}x: {'PASS' if speedup >= TARGET else 'MISS'})")
    print(f"  results identical: {'PASS' if identical else 'MISS'} (largest metric difference {difference:.3g})")
    return 0 if speedup >= TARGET and identical else 1


if __name__ == "__main__":
    sys.exit(main())
