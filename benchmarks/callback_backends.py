"""The callbacks' logged values on every backend and strategy, against the TensorFlow run's.

One run (a 4-16-16-3 MLP, fixed initial weights from numpy, 80 examples in batches of 16 and
16 for validation, no shuffling, 3 epochs, Adam with a warm-up schedule) with every callback, on: TensorFlow;
TensorFlow under `tf.distribute.MirroredStrategy` over two logical CPU devices; TensorFlow
with `mixed_float16` and `LossScaleOptimizer`; JAX; torch. Each configuration runs in its own
process (a backend is chosen at import; logical devices before TensorFlow starts), writes its
event files, and the parent reads them with TensorBoard's reader (no TensorFlow needed) and
compares every scalar (tag, step) with the TensorFlow run's:

    python benchmarks/callback_backends.py            # all configurations, the table
    python benchmarks/callback_backends.py --dump DIR --config jax   # one run's values

Reported per configuration: the number of values compared, tags missing on either side, and
the largest difference relative to max(|TensorFlow value|, 1e-3) (float32 rounding is ~1e-7;
training trajectories on different backends drift apart by a few float32 ulps per step).
mixed_float16 computes in float16 by design: its differences are float16-sized.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

CONFIGS = ("tensorflow", "mirrored", "mixed_float16", "jax", "torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(config, directory, set_devices=True):
    """Trains the run with every callback in `directory`; writes values.json there.

    `set_devices=False`: the caller has already split the CPU into two logical devices."""
    if config == "mirrored" and set_devices:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import contextlib

    import keras
    import numpy as np

    from callbacks import (
        DivergenceGuard,
        EpochSummaries,
        GradientStatistics,
        LearningRateLogger,
        MetricsFile,
        OptimizerStateStatistics,
    )
    from optimizers import Adam
    from optimizers.schedules import Warmup

    if config == "mixed_float16":
        keras.mixed_precision.set_global_policy("mixed_float16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = rng.integers(0, 3, size=96).astype("int32")
    scope = contextlib.nullcontext()
    if config == "mirrored":
        import tensorflow as tf

        # Reduction through one device, not collectives: several strategies can then live in one
        # process (collective instance keys clash between them).
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
        scope = strategy.scope()
    with scope:
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(16, activation="tanh", name="hidden_1"),
                keras.layers.Dense(16, activation="tanh", name="hidden_2"),
                keras.layers.Dense(3, name="logits", dtype="float32"),
            ],
            name="mlp",
        )
        weights = np.random.default_rng(1)
        model.set_weights([weights.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
        optimizer = Adam(Warmup(1e-2, warmup_steps=5))
        if config == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    gradient_statistics = GradientStatistics((x[:32], y[:32]), directory, log_every_n_steps=2, histogram_every_n_steps=None)
    callbacks = [
        LearningRateLogger(directory, log_every_n_steps=1),
        gradient_statistics,
        OptimizerStateStatistics(directory, log_every_n_steps=2, histogram_every_n_steps=None),
        DivergenceGuard(directory, gradient_statistics=gradient_statistics),
        MetricsFile(os.path.join(directory, "metrics.jsonl")),
        EpochSummaries(directory),
    ]
    model.fit(x[:80], y[:80], batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=callbacks,
              validation_data=(x[80:], y[80:]))  # fmt: skip
    values = read_scalars(os.path.join(directory, "train"))
    for tag, steps in read_scalars(os.path.join(directory, "validation")).items():
        values[f"validation/{tag}"] = steps
    with open(os.path.join(directory, "metrics.jsonl")) as file:
        for line in file:
            row = json.loads(line)
            for key in ("loss", "learning_rate", "step"):
                values.setdefault(f"metrics.jsonl/{key}", {})[str(row["epoch"])] = row[key]
    with open(os.path.join(directory, "values.json"), "w") as file:
        json.dump(values, file)


def read_scalars(directory):
    """`{tag: {step: value}}` of every scalar in the directory's event files, read by TensorBoard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(directory, size_guidance={"tensors": 0})
    accumulator.Reload()
    values = {}
    for tag in accumulator.Tags()["tensors"]:
        for event in accumulator.Tensors(tag):
            value = tensor_util.make_ndarray(event.tensor_proto)
            if value.dtype.kind == "f" and value.size == 1:
                values.setdefault(tag, {})[str(event.step)] = float(value)
    return values


def compare(reference, other):
    count, largest, where = 0, 0.0, None
    for tag, steps in reference.items():
        for step, value in steps.items():
            if tag not in other or step not in other[tag]:
                continue
            theirs = other[tag][step]
            if value is None or theirs is None or not (math.isfinite(value) and math.isfinite(theirs)):
                same = (value is None) == (theirs is None)
                difference = 0.0 if same else math.inf
            else:
                difference = abs(theirs - value) / max(abs(value), 1e-3)
            count += 1
            if difference > largest:
                largest, where = difference, f"{tag}@{step}"
    missing = sorted(set(reference) ^ set(other))
    return count, largest, where, missing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=CONFIGS)
    parser.add_argument("--dump", help="run one configuration and write its values here")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    if args.dump:
        run_one(args.config, args.dump)
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as root:
        for config in args.configs.split(","):
            directory = os.path.join(root, config)
            backend = config if config in ("jax", "torch") else "tensorflow"
            environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
            command = [sys.executable, os.path.abspath(__file__), "--config", config, "--dump", directory]
            done = subprocess.run(command, env=environment, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{config}: FAILED\n{done.stderr[-3000:]}")
                continue
            with open(os.path.join(directory, "values.json")) as file:
                results[config] = json.load(file)
    reference = results.get("tensorflow")
    if reference is None:
        return 1
    print(f"{'configuration':<16}{'values':>8}{'largest relative difference':>30}  where; tags missing")
    for config, values in results.items():
        count, largest, where, missing = compare(reference, values)
        print(f"{config:<16}{count:>8}{largest:>30.2e}  {where}; {missing or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
