"""Where a cached run's wall time goes: optimizer steps against everything else, per phase.

    python benchmarks/run_profile.py [--experiment learning_rate] [--size default] [--runs 6]
                                     [--set learning_rate=0.01] [--seen-seeds] [--cprofile FILE]

Trains, in this process and through the sweep's own code path (`workers.run_and_record`), one
warm-up run and then `--runs` runs of one configuration of the experiment (its final stage, the
seeds after the first; `--set` picks the configuration, default: the first), so that every
timed run reuses the compiled model (experiments/engine/compiled_models.py) as a sweep's worker does. Each
phase is timed with perf_counter stamps at the boundaries Keras's `fit` exposes (its callback
list, `evaluate`, the compiled train and test functions), and printed in ms per run:

- steps: what the record counts as optimizer steps, `ms_per_update x updates x epochs` (the
  median training part of the epochs after the first, callbacks' batch hooks included);
- epoch 0 beyond a steady epoch: its training part less the median epoch's, split into the
  train function's calls, each callback's batch hooks and the rest;
- validation: fit's `evaluate` each epoch, split into the test function and the rest, where
  fit validates (JAX, torch, a distribution strategy); else the runner's own validation pass;
- epoch-end callbacks, fit's set-up and end, train_run before and after fit (model reset,
  pipeline, callbacks, initial loss; record, HParams), and run_and_record's own files.

The fraction steps / wall is the one benchmarks/run_overhead.py reports).
`--cprofile FILE` also writes a cProfile of the timed runs (read it with pstats).
"""

import argparse
import collections
import cProfile
import functools
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from experiments import spec
from experiments.sweeps import planning, workers

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
)  # fmt: skip
BEFORE_FIT = ("acquire", "seed_run", "set_random_seed", "get_dataset", "initial_loss", "make_callbacks",
              "training_batches", "validation_batches")  # fmt: skip
AFTER_FIT = ("release", "final_metrics", "versions", "write_hparams")


class Stamps:
    """Named intervals (start, end) of the current run, plus summed timers."""

    def __init__(self):
        self.events, self.timers = [], collections.defaultdict(float)

    def clear(self):
        self.events.clear()
        self.timers.clear()

    def interval(self, name, function):
        """`function`, recording each call as (name, start, end) in `events`."""
        return self._timed(function, lambda start, end: self.events.append((name, start, end)))

    def timer(self, name, function):
        """`function`, adding each call's duration to `timers[name]`."""

        def add(start, end):
            self.timers[name] += end - start

        return self._timed(function, add)

    @staticmethod
    def _timed(function, record):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                record(start, time.perf_counter())

        return wrapper


def instrument(stamps):
    import keras
    import tensorflow as tf

    from experiments.engine import epoch_loop, run_directory, training, validation_pass

    for name in ("fit", "evaluate"):
        setattr(keras.Model, name, stamps.interval(name, getattr(keras.Model, name)))
    # The runner's own loop (TensorFlow, default strategy) in fit's place, its compiled steps as
    # the train function.
    epoch_loop.fit = stamps.interval("fit", epoch_loop.fit)
    compiled_steps = epoch_loop.compiled_steps
    epoch_loop.compiled_steps = lambda model: stamps.interval("train_function", compiled_steps(model))
    for hook in HOOKS:
        setattr(keras.callbacks.CallbackList, hook, stamps.interval(hook, getattr(keras.callbacks.CallbackList, hook)))
    training.train_run = stamps.interval("train_run", training.train_run)
    for name in BEFORE_FIT + AFTER_FIT:
        if hasattr(training, name):
            setattr(training, name, stamps.timer(name, getattr(training, name)))
    cache = training.COMPILED_MODELS
    for name in ("acquire", "release"):
        if cache is not None:
            setattr(cache, name, stamps.timer(name, getattr(cache, name)))
    if hasattr(training, "run_cache") and hasattr(training.run_cache, "seed_run"):
        training.run_cache.seed_run = stamps.timer("seed_run", training.run_cache.seed_run)
    keras.utils.set_random_seed = stamps.timer("set_random_seed", keras.utils.set_random_seed)
    for name in ("write_config", "write_record"):
        setattr(run_directory, name, stamps.timer(name, getattr(run_directory, name)))
    validation_pass.evaluate = stamps.interval("validation_pass", validation_pass.evaluate)

    class CompiledFunctionTimer(keras.callbacks.Callback):
        """Times the model's compiled train and test functions during one fit, then puts them
        back (the model cache checks that the train function is the one it traced)."""

        def on_train_begin(self, logs=None):
            self._saved = {}
            # The own loop never calls `train_function` (its compiled steps are timed above)
            # and makes new steps when the function changes: wrapping it would retrace them.
            own_loop = training.OWN_LOOP and self.model.distribute_strategy is tf.distribute.get_strategy()
            for name in ("test_function",) if own_loop else ("train_function", "test_function"):
                function = getattr(self.model, name, None)
                if function is not None:
                    self._saved[name] = function
                    setattr(self.model, name, stamps.interval(name, function))

        def on_train_end(self, logs=None):
            for name, function in self._saved.items():
                setattr(self.model, name, function)

    make_callbacks = training.make_callbacks

    def timed_callbacks(*args):
        made = make_callbacks(*args)
        for callback in made:
            for hook in HOOKS:
                name = f"{type(callback).__name__}.{hook}"
                setattr(callback, hook, stamps.timer(name, getattr(callback, hook)))
        return [*made, CompiledFunctionTimer()]

    training.make_callbacks = timed_callbacks


def within(events, name, start, end):
    return [(s, e) for n, s, e in events if n == name and s >= start and e <= end]


def total(intervals):
    return sum(e - s for s, e in intervals)


def breakdown(stamps, run_wall, record):
    """`{phase: seconds}` of one run from its stamps."""
    events = sorted(stamps.events, key=lambda event: event[1])
    timers = stamps.timers
    (train_start, train_end), = within(events, "train_run", 0, float("inf"))
    (fit_start, fit_end), = within(events, "fit", train_start, train_end)
    epoch_begins = [s for s, _ in within(events, "on_epoch_begin", fit_start, fit_end)]
    epoch_ends = within(events, "on_epoch_end", fit_start, fit_end)
    evaluates = within(events, "evaluate", fit_start, fit_end)
    trainings, hooks_per_epoch, functions_per_epoch = [], [], []
    for begin, (end_start, _) in zip(epoch_begins, epoch_ends):
        evaluate = [s for s, _ in evaluates if begin <= s <= end_start]
        stop = evaluate[0] if evaluate else end_start
        trainings.append(stop - begin)
        functions_per_epoch.append(total(within(events, "train_function", begin, stop)))
        hooks_per_epoch.append(
            total(within(events, "on_train_batch_begin", begin, stop)) + total(within(events, "on_train_batch_end", begin, stop))
        )
    metrics = record["metrics"]
    steps = metrics["ms_per_update"] * metrics["updates_per_epoch"] * record["epochs_completed"] / 1e3
    steady = statistics.median(trainings[1:]) if len(trainings) > 1 else trainings[0]
    steady_function = statistics.median(functions_per_epoch[1:]) if len(trainings) > 1 else functions_per_epoch[0]
    steady_hooks = statistics.median(hooks_per_epoch[1:]) if len(trainings) > 1 else hooks_per_epoch[0]
    first = trainings[0] - steady
    first_function = functions_per_epoch[0] - steady_function
    first_hooks = hooks_per_epoch[0] - steady_hooks
    validation = total(evaluates)
    test_function = total(within(events, "test_function", fit_start, fit_end))
    test_hooks = sum(total(within(events, h, fit_start, fit_end)) for h in HOOKS if h.startswith("on_test"))
    epoch_end_hooks = total(epoch_ends)
    own_validation = total(within(events, "validation_pass", fit_start, fit_end))
    own_after_fit = total(within(events, "validation_pass", fit_end, train_end))
    fit_rest = (fit_end - fit_start) - sum(trainings) - validation - epoch_end_hooks
    phases = {
        "steps (the record's)": steps,
        "epoch 0 beyond a steady epoch": first,
        "  train function (first calls)": first_function,
        "  batch hooks (probes traced, files opened)": first_hooks,
        "  the rest (iterator, Keras's loop)": first - first_function - first_hooks,
        "later epochs' spread around the median": sum(trainings) - trainings[0] - steady * (len(trainings) - 1),
        "validation (fit's evaluate)": validation,
        "  test function": test_function,
        "  callbacks' on_test_* hooks": test_hooks,
        "  the rest (iterator, metrics)": validation - test_function - test_hooks,
        "validation pass (ours, at epoch end)": own_validation,
        "epoch-end callbacks (the validation pass left out)": epoch_end_hooks - own_validation,
        "fit set-up and end (train begin/end hooks included)": fit_rest,
        "train_run before fit": fit_start - train_start,
        **{f"  {name}": timers[name] for name in BEFORE_FIT if name in timers},
        "train_run after fit": train_end - fit_end,
        **{f"  {name}": timers[name] for name in AFTER_FIT if name in timers},
        "  validation pass (the halves)": own_after_fit,
        "run_and_record around train_run (config, record)": run_wall - (train_end - train_start),
    }
    steady_parts = (steady_function, steady_hooks, steady - steady_function - steady_hooks)
    hooks = {name: seconds for name, seconds in timers.items() if "." in name}
    return phases, steady_parts, hooks, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="learning_rate")
    parser.add_argument("--size", default="default", choices=("default", "quick"))
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="pick the configuration (a varied setting's value)")  # fmt: skip
    parser.add_argument("--seen-seeds", action="store_true",
                        help="train the timed runs once untimed first: their seeds' data orders and initial weights "
                             "drawn already, as a sweep's later configurations find them")  # fmt: skip
    parser.add_argument("--cprofile", metavar="FILE")
    parser.add_argument("--no-model-reuse", action="store_true", help="one fresh compiled model per run, as run.py's flag")
    args = parser.parse_args()
    from experiments.config.options import EngineOptions

    workers.prepare_process(threads=int(os.environ.get("PROFILE_THREADS", "0")) or None,
                            engine=EngineOptions(reuse_models=not args.no_model_reuse))
    stamps = Stamps()
    instrument(stamps)
    experiment = spec.load(args.experiment, args.size)
    runs = planning.final_stage(experiment, {}, max(experiment.seeds, args.runs + 1), None)
    for item in args.set:
        key, value = item.split("=", 1)
        runs = [run for run in runs if str(run.config[key]) == value]
    group = runs[0].group
    runs = [run for run in runs if run.group == group][: args.runs + 1]
    if len(runs) < 2:
        parser.error("need at least two runs of one configuration")
    logdir = tempfile.mkdtemp()
    workers.run_and_record(runs[0], logdir)  # warm-up: builds, compiles and traces the model
    for run in runs[1:] if args.seen_seeds else ():
        workers.run_and_record(run, tempfile.mkdtemp())
    profile = cProfile.Profile() if args.cprofile else None
    sums, steady_sum, hook_sums = collections.defaultdict(float), [0.0, 0.0, 0.0], collections.defaultdict(float)
    walls, steps, reused = [], [], []
    for run in runs[1:]:
        stamps.clear()
        start = time.perf_counter()
        if profile:
            profile.enable()
        record = workers.run_and_record(run, logdir)
        if profile:
            profile.disable()
        walls.append(time.perf_counter() - start)
        reused.append(record.get("reused_compiled_model"))
        phases, steady_parts, hooks, run_steps = breakdown(stamps, walls[-1], record)
        steps.append(run_steps)
        for name, seconds in phases.items():
            sums[name] += seconds
        steady_sum = [a + b for a, b in zip(steady_sum, steady_parts)]
        for name, seconds in hooks.items():
            hook_sums[name] += seconds
    n = len(walls)
    wall = sum(walls) / n
    print(f"{args.experiment} ({args.size}), {group}: {n} runs after a warm-up, reused compiled model: "
          f"{sum(map(bool, reused))}/{n}")  # fmt: skip
    print(f"wall {1e3 * wall:.0f} ms per run (min {1e3 * min(walls):.0f}), steps {1e3 * sum(steps) / n:.0f} ms: "
          f"fraction {sum(steps) / sum(walls):.2f}")  # fmt: skip
    print(f"\n{'phase':<58} {'ms/run':>8} {'of wall':>8}")
    for name, seconds in sums.items():
        print(f"{name:<58} {1e3 * seconds / n:>8.1f} {seconds / n / wall:>8.1%}")
        if name.startswith("later epochs"):
            parts = " / ".join(f"{1e3 * s / n:.1f}" for s in steady_sum)
            print(f"  steady epoch: train function / batch hooks / rest {parts} ms")
    print(f"\n{'callback hook (all epochs)':<58} {'ms/run':>8}")
    for name, seconds in sorted(hook_sums.items(), key=lambda item: -item[1])[:12]:
        print(f"{name:<58} {1e3 * seconds / n:>8.1f}")
    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} cores, load average {load[0]:.1f} (1 min) at the end")
    if profile:
        profile.dump_stats(args.cprofile)


if __name__ == "__main__":
    main()
