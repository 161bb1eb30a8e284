"""Stacked seeds end to end, as `python experiments/run.py` trains a configuration: K seeds as one
stacked group (`stacked_pool.train_group`) against K separate runs (`workers.run_and_record`).

    python benchmarks/stacked_end_to_end.py [--members 10] [--repeats 3] [--epochs 10] [--jit] [--profile]

Both arms write what the runner writes (config.json, the logging callbacks' event files,
metrics.jsonl, HParams, record.json) and reuse what a worker process keeps between
configurations: the separate runs their compiled model (experiments/engine/compiled_models.py),
the group its stacked model (experiments/engine/stacked/compiled.py). Each arm is warmed by one
configuration first, then the configurations of a momentum study (SGD, momentum 0.9, batch 32,
the digits MLP) at learning rates 0.01, 0.02, ... alternate between the arms. Printed: the wall
time per configuration of each arm (median over repeats), their ratio, and whether the
records agree (final validation loss to float32 rounding). Target: >= 4x without XLA.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.engine.quiet import import_tensorflow_quietly

import_tensorflow_quietly()
import keras
import numpy as np

from experiments.config.settings import resolve
from experiments.sweeps import stacked_pool, workers
from experiments.sweeps.planning import PlannedRun

TARGET = 4.0


def planned(config, members, rate):
    settings = {**config, "learning_rate": rate}
    return [
        PlannedRun("bench", f"lr{rate:g}", f"lr{rate:g}_seed{seed}", "final", {**settings, "seed": seed})
        for seed in range(members)
    ]


def timed(function, runs, logdir):
    started = time.perf_counter()
    records = function(runs, logdir)
    return time.perf_counter() - started, records


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--jit", action="store_true", help="jit_compile=True (XLA) in both arms")
    parser.add_argument("--profile", action="store_true", help="cProfile of the stacked arm's timed groups")
    args = parser.parse_args()
    keras.utils.disable_interactive_logging()
    config = resolve({"optimizer": "sgd", "momentum": 0.9, "epochs": args.epochs, "jit_compile": args.jit})
    rates = [0.01 * (i + 1) for i in range(args.repeats + 1)]
    profile = cProfile.Profile() if args.profile else None
    times = {"separate": [], "stacked": []}
    agree, differences = [], []
    with tempfile.TemporaryDirectory() as logdir:
        for i, rate in enumerate(rates):
            runs = planned(config, args.members, rate)
            separate_s, alone = timed(workers.train_each, runs, os.path.join(logdir, f"separate{i}"))
            if profile and i:
                profile.enable()
            stacked_s, together = timed(stacked_pool.train_group, runs, os.path.join(logdir, f"stacked{i}"))
            if profile:
                profile.disable()
            if i == 0:
                print(f"warm-up (traces): separate {separate_s:.2f} s, stacked {stacked_s:.2f} s")
                continue
            times["separate"].append(separate_s)
            times["stacked"].append(stacked_s)
            a = np.array([r["metrics"]["val_loss"] for r in alone], float)
            b = np.array([r["metrics"]["val_loss"] for r in together], float)
            same_status = [r["status"] for r in alone] == [r["status"] for r in together]
            agree.append(same_status and all("stacked" in r for r in together))
            differences.append(float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(a), 1e-12))))
            print(f"lr {rate:g}: separate {separate_s:.2f} s, stacked {stacked_s:.2f} s, {separate_s / stacked_s:.2f}x")
    separate_s, stacked_s = statistics.median(times["separate"]), statistics.median(times["stacked"])
    ratio = separate_s / stacked_s
    verdict = "MET" if ratio >= TARGET else "MISS"
    print(
        f"K = {args.members}, {args.epochs} epochs, XLA {'on' if args.jit else 'off'}: {args.members} separate runs "
        f"{separate_s:.2f} s, one stacked group {stacked_s:.2f} s per configuration: {ratio:.2f}x "
        f"(target {TARGET:g}x: {verdict}); statuses agree: {all(agree)}, largest relative difference of a "
        f"final val_loss: {max(differences):.1e}"
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
