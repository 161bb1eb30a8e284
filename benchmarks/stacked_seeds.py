"""Seeds in one graph (experiments/engine/stacked/) against separate runs: updates per second.

    python benchmarks/stacked_seeds.py [--epochs 4] [--repeats 2] [--members 8,32] [--separate 8]

The digits MLP 64-128-128-10, Adam at 1e-3, batch 32, without and with XLA
(`jit_compile`), interleaved repeats of:
- separate: `--separate` runs of `training.train_run`, one per seed, as `python experiments/run.py`
  trains them (its compiled-model cache, our callbacks); throughput = 1 / ms_per_update, the
  median epoch after the first;
- separate, no callbacks: the same runs without the logging callbacks (the stacked path runs none);
- stacked K: one `train_stacked` over K seeds; throughput = K / ms per stacked update (the
  stacked step updates K members), epochs after the first.
Ratios are to the faster of the two separate arms. End to end: the wall time of the separate
runs against one stacked run of as many seeds (model builds, tracing, validation, everything).
Target: stacked K = 8 at >= 4x the updates per second of 8 separate runs, with XLA or
without.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.engine.quiet import import_tensorflow_quietly

import_tensorflow_quietly()
import keras

from experiments.config.settings import resolve
from experiments.engine import stacked, training

TARGET = 4.0
TARGET_MEMBERS = 8


def separate(config, seeds, with_callbacks=True):
    """(updates per second of one run, wall seconds of all) for separate runs of `seeds`."""
    ms, started = [], time.perf_counter()
    callbacks = None if with_callbacks else (lambda *args: [])  # None: the runner's own
    with tempfile.TemporaryDirectory() as logdir:
        for seed in seeds:
            run_dir = os.path.join(logdir, f"seed{seed}")
            record = training.train_run({**config, "seed": seed}, run_dir, callbacks=callbacks)
            ms.append(record["metrics"]["ms_per_update"])
    return 1e3 / statistics.median(ms), time.perf_counter() - started


def stacked_run(config, seeds):
    """(updates per second, all members together; wall seconds) for one stacked run of `seeds`."""
    started = time.perf_counter()
    records = stacked.train_stacked(config, seeds)
    wall = time.perf_counter() - started
    return len(seeds) * 1e3 / records[0]["stacked"]["ms_per_stacked_update"], wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--members", default="8,32")
    parser.add_argument("--separate", type=int, default=8)
    args = parser.parse_args()
    keras.utils.disable_interactive_logging()
    members = [int(k) for k in args.members.split(",")]
    met = False
    rows = []
    for jit in (False, True):
        config = resolve({"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 32, "epochs": args.epochs,
                          "jit_compile": jit})  # fmt: skip
        arms = {
            "separate": lambda config=config: separate(config, range(args.separate)),
            "separate, no callbacks": lambda config=config: separate(
                config, range(args.separate), with_callbacks=False
            ),
        }
        for k in members:
            arms[f"stacked K={k}"] = lambda k=k, config=config: stacked_run(config, list(range(k)))
        results = {name: [] for name in arms}
        for _ in range(args.repeats):  # interleaved: a slow spell of the machine hits every arm
            for name, measure in arms.items():
                results[name].append(measure())
        # The stacked path runs no Keras callbacks: compare with the faster of the two separate arms.
        base = max(("separate", "separate, no callbacks"), key=lambda n: statistics.median(r[0] for r in results[n]))
        base_rate = statistics.median(r[0] for r in results[base])
        base_wall = statistics.median(r[1] for r in results[base])
        print(f"\n{'XLA' if jit else 'no XLA'}, {args.epochs} epochs, median of {args.repeats}:")
        for name, values in results.items():
            rate = statistics.median(v[0] for v in values)
            wall = statistics.median(v[1] for v in values)
            line = f"  {name:<22} {rate:9.0f} updates/s  {rate / base_rate:5.2f}x {base}"
            if name.startswith("separate"):
                line += f"   {args.separate} runs end to end {wall:6.1f} s"
            else:
                k = int(name.split("=")[1])
                per_run = wall / k
                line += (
                    f"   end to end {wall:6.1f} s for {k} seeds, {base_wall / args.separate / per_run:5.2f}x per seed"
                )
            print(line)
            if name == f"stacked K={TARGET_MEMBERS}":
                ok = rate / base_rate >= TARGET
                met |= ok
                rows.append((jit, rate / base_rate, ok))
    print()
    for jit, ratio, ok in rows:
        print(f"target stacked K={TARGET_MEMBERS} >= {TARGET:g}x separate runs' updates/s, "
              f"{'XLA' if jit else 'no XLA'}: {'PASS' if ok else 'MISS'} ({ratio:.2f}x)")  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
