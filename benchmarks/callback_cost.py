"""What each callback costs: training time with it against training time without any.

A digits MLP (64-128-128-10, ReLU, Adam 1e-3, batch 32; sklearn's load_digits, standardized)
trains for `--epochs` epochs with no callback, with each callback alone at its default
frequency, and with all of them together. Runs are interleaved (every configuration once per
repeat, in a shuffled order) so that drifts in machine load hit all of them alike.

Reported per configuration (medians over the repeats):
- hook ms/epoch: wall time spent inside the callbacks' hooks per epoch after the first (the
  first holds one-time tracing), measured by wrapping each callback in a timer;
- overhead: that time / the rest of the same epochs' time. It is what the callbacks add, and
  it is robust to the load of a shared machine, which shifts whole runs;
- end-to-end: s/epoch with the callbacks / s/epoch without - 1, taken within each repeat.
  It also counts effects outside the hooks, but on a busy 2-core machine single runs vary by
  +-20%: read it as a check on `overhead`, not a measurement of small costs;
- first epoch s: the hooks' time in the first epoch (tracing, opening files), once per `fit`.

    python benchmarks/callback_cost.py                          # Keras's steps_per_execution=1
    python benchmarks/callback_cost.py --steps-per-execution 16 # the experiment runner's setting
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from callbacks import (  # noqa: E402
    DivergenceGuard,
    GradientStatistics,
    LearningRateLogger,
    MetricsFile,
    OptimizerStateStatistics,
)

TARGET = 0.10  # the budget for all callbacks together: 10% of a run


_HOOKS = (
    "on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
    "on_epoch_end", "on_train_end", "on_test_begin", "on_test_batch_begin",
    "on_test_batch_end", "on_test_end",
)  # fmt: skip


class HookTimer(keras.callbacks.Callback):
    """Runs `inner`'s hooks and adds up the wall time they take, per epoch."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.seconds_per_epoch = []
        self._seconds = 0.0

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params(params)


def _timed(name):
    def hook(self, *args, **kwargs):
        start = time.perf_counter()
        getattr(self.inner, name)(*args, **kwargs)
        self._seconds += time.perf_counter() - start
        if name == "on_epoch_end":
            self.seconds_per_epoch.append(self._seconds)
            self._seconds = 0.0

    return hook


for _name in _HOOKS:
    setattr(HookTimer, _name, _timed(_name))


class EpochClock(keras.callbacks.Callback):
    """Wall time of each epoch, hooks included: placed last, it sees every other hook's work."""

    def on_train_begin(self, logs=None):
        self.marks = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.marks.append(time.perf_counter())

    @property
    def epoch_seconds(self):
        return np.diff(self.marks)


def digits():
    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    return x.astype("float32"), y.astype("int32")


def configurations(x, y, log_dir):
    probe = (x[:32], y[:32])
    single = {
        "LearningRateLogger": lambda d: [LearningRateLogger(d)],
        "GradientStatistics": lambda d: [GradientStatistics(probe, d)],
        "OptimizerStateStatistics": lambda d: [OptimizerStateStatistics(d)],
        "DivergenceGuard": lambda d: [DivergenceGuard(d)],
        "DivergenceGuard(rollback)": lambda d: [DivergenceGuard(d, rollback=True)],
        "MetricsFile": lambda d: [MetricsFile(os.path.join(d, "metrics.jsonl"))],
    }

    def everything(d):
        gradient_statistics = GradientStatistics(probe, d)
        return [
            LearningRateLogger(d),
            gradient_statistics,
            OptimizerStateStatistics(d),
            DivergenceGuard(d, gradient_statistics=gradient_statistics),
            MetricsFile(os.path.join(d, "metrics.jsonl")),
        ]

    return {"none": lambda d: [], **single, "all (no rollback)": everything}


def train(x, y, callbacks, epochs, steps_per_execution):
    """Returns (s/epoch, hook s/epoch, first-epoch hook s), steady values as medians/means."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=steps_per_execution,
    )
    timers = [HookTimer(callback) for callback in callbacks]
    clock = EpochClock()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[*timers, clock])
    epoch_seconds = clock.epoch_seconds
    hook_seconds = np.sum([t.seconds_per_epoch for t in timers], axis=0) if timers else None
    if hook_seconds is None:
        hook_seconds = np.zeros_like(epoch_seconds)
    # Mean, not median: a callback that logs every 100 steps works in some epochs only.
    return float(np.median(epoch_seconds[1:])), float(np.mean(hook_seconds[1:])), float(hook_seconds[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    args = parser.parse_args(argv)

    x, y = digits()
    steps_per_epoch = -(-len(x) // 32)
    timings = {}
    with tempfile.TemporaryDirectory() as root:
        configs = configurations(x, y, root)
        for repeat in range(args.repeats):
            order = list(configs)
            random.Random(repeat).shuffle(order)
            for name in order:
                log_dir = os.path.join(root, f"{repeat}-{len(timings.get(name, []))}-{name}")
                callbacks = configs[name](log_dir)
                timings.setdefault(name, []).append(train(x, y, callbacks, args.epochs, args.steps_per_execution))

    def median(name, value):
        return statistics.median(value(run, base) for run, base in zip(timings[name], timings["none"]))

    print(
        f"digits MLP 64-128-128-10, Adam, batch 32, {steps_per_epoch} steps/epoch, "
        f"steps_per_execution={args.steps_per_execution}, {args.epochs} epochs, "
        f"{args.repeats} interleaved repeats, medians"
    )
    header = ("callbacks", "s/epoch", "hook ms/epoch", "overhead", "end-to-end", "first epoch s")
    print(f"{header[0]:<28}{header[1]:>9}{header[2]:>15}{header[3]:>10}{header[4]:>12}{header[5]:>15}")
    overheads = {}
    for name in configs:
        epoch = statistics.median(run[0] for run in timings[name])
        hooks = statistics.median(run[1] for run in timings[name])
        overheads[name] = median(name, lambda run, base: run[1] / (run[0] - run[1]))
        end_to_end = median(name, lambda run, base: run[0] / base[0] - 1.0)
        first = statistics.median(run[2] for run in timings[name])
        print(f"{name:<28}{epoch:>9.4f}{1e3 * hooks:>15.2f}{overheads[name]:>+10.1%}{end_to_end:>+12.1%}{first:>15.2f}")
    total = overheads["all (no rollback)"]
    verdict = "yes" if total < TARGET else "NO"
    print(f"all together under {TARGET:.0%} of training time: {verdict} ({total:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
