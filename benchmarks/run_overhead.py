"""How much of a run's wall time is training: reused compiled models against one model per run.

    python benchmarks/run_overhead.py [EXPERIMENT ...] [--size default|quick] [--jobs 2] [--seeds N]
                                      [--epochs N] [--paths reuse,fresh] [--together]

For each experiment (default: every MLP experiment of experiments/specs/), interleaved, runs
`python experiments/run.py EXPERIMENT` from scratch in a fresh log directory once per path:
- reuse: as run.py trains now (experiments/engine/compiled_models.py: one compiled model per architecture,
  optimizer and batch size per worker, reset between runs);
- fresh: one model built, compiled and traced per run (`run.py --no-model-reuse`), the
  path before;
- keras_fit: reused models trained by Keras's `fit` (`run.py --keras-fit`) instead of
  the runner's own loop (experiments/engine/epoch_loop.py).
From every record.json it sums the time in optimizer steps, `ms_per_update x updates_per_epoch x
epochs_completed` (ms_per_update is measured the same way on both paths: the median training part
of an epoch after the first, over its updates), and the runs' own wall time; prints per experiment
and path the fraction of wall time in steps and the command's end-to-end time, then the totals
and the speed-up of reuse over fresh, and checks that both paths wrote the same numbers.
`--together` runs all the experiments in one command per path, as `run.py --all` runs the suite
(its workers' compiled models serve every experiment), and prints one row per path.
Targets: fraction >= 0.7 on the digits MLP runs; the speed-up is reported.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from experiments import spec

TARGET_FRACTION = 0.7
FLAGS = {"reuse": [], "fresh": ["--no-model-reuse"], "keras_fit": ["--keras-fit"]}
SPEED_METRICS = ("ms_per_update", "samples_per_second")


def mlp_experiments():
    return [name for name in spec.available(spec.SPECS_DIR) if spec.load(name, "quick").kind == "mlp"]


def run_experiments(names, path, args, logdir):
    command = [sys.executable, os.path.join(REPO, "experiments", "run.py"), *names, "--logdir", logdir,
               "--size", args.size, "--jobs", str(args.jobs), *FLAGS[path]]  # fmt: skip
    for flag in ("seeds", "epochs"):
        if getattr(args, flag):
            command += [f"--{flag}", str(getattr(args, flag))]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    records = {}
    for name in names:
        for directory, _, files in os.walk(os.path.join(logdir, name)):
            if "record.json" in files:
                with open(os.path.join(directory, "record.json")) as f:
                    record = json.load(f)
                records[(name, record["run_id"])] = record
    return seconds, records


def step_seconds(record):
    metrics = record.get("metrics") or {}
    if not metrics.get("ms_per_update") or not record.get("epochs_completed"):
        return 0.0
    return metrics["ms_per_update"] * metrics["updates_per_epoch"] * record["epochs_completed"] / 1e3


def numbers(record):
    metrics = {k: v for k, v in (record.get("metrics") or {}).items() if k not in SPEED_METRICS}
    return record["status"], metrics, record.get("history")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="*")
    parser.add_argument("--size", choices=spec.SIZES, default="default")  # the suite the target is about
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--paths", default="reuse,fresh")
    parser.add_argument("--together", action="store_true", help="all experiments in one run.py command per path")
    args = parser.parse_args()
    paths = args.paths.split(",")
    names = args.experiments or mlp_experiments()
    totals = {path: {"command": 0.0, "wall": 0.0, "steps": 0.0, "runs": 0} for path in paths}
    # Where the rest goes: runs that reused a compiled model against runs that traced one.
    split = {path: {reused: [0, 0.0, 0.0] for reused in (True, False)} for path in paths}
    mismatched = []
    header = ("experiment", "path", "runs", "command s", "runs wall s", "steps s", "fraction")
    print("{:<22} {:<6} {:>5} {:>10} {:>12} {:>8} {:>8}".format(*header))
    with tempfile.TemporaryDirectory() as tmp:
        batches = [names] if args.together else [[name] for name in names]
        for batch in batches:
            name = "together" if args.together else batch[0]
            results = {}
            for path in paths:  # interleaved: a slow spell of the machine hits both paths
                seconds, records = run_experiments(batch, path, args, os.path.join(tmp, path))
                wall = sum(r.get("wall_time_s", 0.0) for r in records.values())
                steps = sum(step_seconds(r) for r in records.values())
                results[path] = records
                for record in records.values():
                    part = split[path][bool(record.get("reused_compiled_model"))]
                    part[0] += 1
                    part[1] += record.get("wall_time_s", 0.0)
                    part[2] += step_seconds(record)
                for key, value in (("command", seconds), ("wall", wall), ("steps", steps), ("runs", len(records))):
                    totals[path][key] += value
                print(f"{name:<22} {path:<6} {len(records):>5} {seconds:>10.1f} {wall:>12.1f} {steps:>8.1f} "
                      f"{steps / wall if wall else float('nan'):>8.2f}", flush=True)
            if len(paths) == 2:
                first, second = (results[p] for p in paths)
                if first.keys() != second.keys() or any(numbers(first[k]) != numbers(second[k]) for k in first):
                    mismatched.append(name)
    print()
    for path, total in totals.items():
        fraction = total["steps"] / total["wall"] if total["wall"] else float("nan")
        verdict = "PASS" if fraction >= TARGET_FRACTION else "MISS"
        print(f"{path:<6} {total['runs']} runs: {total['command']:.0f} s end to end, {total['wall']:.0f} s in runs, "
              f"{total['steps']:.0f} s in steps: fraction {fraction:.2f} (target >= {TARGET_FRACTION}: {verdict})")
        for reused, (count, wall, steps) in split[path].items():
            if count:
                what = "reused a compiled model" if reused else "built, compiled and traced one"
                print(f"  {count} runs {what}: {wall:.0f} s in runs, {steps:.0f} s in steps, "
                      f"{1e3 * (wall - steps) / count:.0f} ms per run outside the steps")
    if len(paths) == 2:
        a, b = (totals[p] for p in paths)
        print(f"speed-up {paths[0]} over {paths[1]}: {b['command'] / a['command']:.2f}x end to end, "
              f"{b['wall'] / a['wall']:.2f}x in runs")
        print(f"same numbers on both paths (metrics but speed, histories, statuses): "
              f"{'PASS' if not mismatched else 'MISS: ' + ', '.join(mismatched)}")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} (1 min) at the end; --size {args.size} "
          f"--jobs {args.jobs}")
    ok = all(t["steps"] >= TARGET_FRACTION * t["wall"] for p, t in totals.items() if p == "reuse")
    return 0 if ok and not mismatched else 1


if __name__ == "__main__":
    sys.exit(main())
