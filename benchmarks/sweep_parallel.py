"""A sweep with --jobs 2 against --jobs 1, through the real command line.

    python benchmarks/sweep_parallel.py [EXPERIMENT ...] [--size default|quick] [--epochs N] [--seeds N]
                                        [--repeats 1]

Runs the same sweep from scratch, in fresh log directories, once per job count and repeat
(interleaved: `--jobs 1`, `--jobs 2`, `--jobs 1`, ...), each through `python experiments/run.py
EXPERIMENT ... --jobs N` in its own process so that both pay the same start-up; prints the wall
times, the speed-up (median over repeats) and whether every run's metrics are identical.
Target: --jobs 2 at least 1.8x faster, results identical.

Two sweeps answer different questions:
- `--size default` of the default job's experiments (no arguments: optimizers, learning_rate,
  batch_size): a sweep as run.py runs it, where the runs' own time dominates;
- `learning_rate --size default --epochs 4 --seeds 5` (30 runs of 0.1-0.5 s): a sweep so short
  that two workers' start-up (spawning, importing TensorFlow, tracing each model once per
  worker) and the main process's tables, figures and reports bound the speed-up.
Also printed: the sum of the runs' own wall times, so that the fixed costs outside the runs
(start-up, planning, outputs) show as the rest of the command's time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 1.8
COMPARED = ["status", "val_loss", "val_accuracy", "train_loss", "train_accuracy"]
DEFAULT_EXPERIMENTS = ("optimizers", "learning_rate", "batch_size")  # run.py's default job


def sweep(experiments, jobs, args, logdir):
    command = [sys.executable, os.path.join(REPO, "experiments", "run.py"), *experiments, "--jobs", str(jobs),
               "--size", args.size, "--logdir", logdir]  # fmt: skip
    for flag in ("epochs", "seeds"):
        if getattr(args, flag):
            command += [f"--{flag}", str(getattr(args, flag))]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    tables, in_runs = [], 0.0
    for experiment in experiments:
        runs = pd.read_csv(os.path.join(logdir, experiment, "runs.csv"))
        runs["run_id"] = experiment + "/" + runs["run_id"]
        tables.append(runs)
    for directory, _, files in os.walk(logdir):
        if "record.json" in files:
            with open(os.path.join(directory, "record.json")) as f:
                in_runs += json.load(f).get("wall_time_s", 0.0)
    return seconds, in_runs, pd.concat(tables).sort_values("run_id").set_index("run_id")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="*", default=list(DEFAULT_EXPERIMENTS))
    parser.add_argument("--size", choices=("default", "quick"), default="default")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    times = {1: [], 2: []}
    in_runs = {1: [], 2: []}
    identical, difference, runs = True, 0.0, None
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            tables = {}
            for jobs in (1, 2):
                logdir = os.path.join(tmp, f"{repeat}_{jobs}")
                seconds, runs_s, tables[jobs] = sweep(args.experiments, jobs, args, logdir)
                times[jobs].append(seconds)
                in_runs[jobs].append(runs_s)
            serial, parallel = tables[1], tables[2]
            same_runs = list(serial.index) == list(parallel.index)
            same_nans = True
            if same_runs:
                a, b = serial[COMPARED[1:]], parallel[COMPARED[1:]]
                same_nans = (a.isna() == b.isna()).all().all()  # a diverged run's NaN on both sides
                difference = max(difference, float(np.nanmax((a - b).abs().to_numpy(), initial=0.0)))
            identical &= same_runs and same_nans and (serial.status == parallel.status).all() and difference == 0
            runs = len(serial)
    speedups = [a / b for a, b in zip(times[1], times[2])]
    speedup = statistics.median(speedups)
    flags = [f" --{flag} {getattr(args, flag)}" for flag in ("epochs", "seeds") if getattr(args, flag)]
    sizes = f"--size {args.size}" + "".join(flags)
    print(f"{' '.join(args.experiments)} ({sizes}): {runs} runs on {os.cpu_count()} cores, {args.repeats} repeat(s)")
    for jobs in (1, 2):
        command, inside = statistics.median(times[jobs]), statistics.median(in_runs[jobs])
        print(f"  --jobs {jobs}: {command:6.1f} s  (runs' own wall time {inside:6.1f} s summed over workers; "
              f"all: {', '.join(f'{t:.1f}' for t in times[jobs])})")
    print(f"  speed-up {speedup:.2f}x (per repeat: {', '.join(f'{s:.2f}' for s in speedups)}; "
          f"target >= {TARGET}x: {'PASS' if speedup >= TARGET else 'MISS'})")
    print(f"  results identical: {'PASS' if identical else 'MISS'} (largest metric difference {difference:.3g})")
    load = os.getloadavg()
    print(f"machine: load average {load[0]:.1f} (1 min) at the end")
    return 0 if speedup >= TARGET and identical else 1


if __name__ == "__main__":
    sys.exit(main())
