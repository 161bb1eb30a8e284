"""The runner's training loop against a raw tf.function loop and a whole epoch in one tf.function.

    python benchmarks/training_loop.py [--epochs 6] [--repeats 3] [--batch-sizes 16,128]

On the digits MLP 64-128-128-10 (SGD), per batch size, interleaved repeats of:
- runner: `experiments.engine.training.train_run` exactly as `python experiments/run.py` trains (its own
  loop, experiments/engine/epoch_loop.py: Keras's step, steps_per_execution steps per call on batches
  gathered in the epoch's order, our TensorBoard callbacks at their default frequencies); time
  per update from its own `ms_per_update`, the median epoch after the first;
- runner, no callbacks: the same loop without the logging callbacks;
- runner through Keras's fit: the same run trained by `fit` on the runner's tf.data pipeline
  (`run.py --keras-fit`), the path before the runner's own loop;
- keras fit on numpy: `model.fit(x, y, batch_size)`, what a plain Keras user writes;
- raw loop: a Python loop over the same tf.data batches calling a `tf.function` train step
  (GradientTape, loss, optimizer.apply), the usual hand-written loop;
- raw in-graph epoch: one `tf.function` running a whole epoch (shuffle, gather, step) with no
  Python between steps, the floor for this model on this machine;
- Keras's step, in-graph epoch: the runner's compiled steps (the compiled model's own
  `train_step`: loss, accuracy, optimizer) over a whole epoch in one call, with no Python
  between steps: the floor for any loop that uses Keras's step, which the runner's gap to the
  raw in-graph epoch splits into (Keras's step, against the runner's calls and callbacks).
Prints ms per update and each loop's ratio to the raw loop; targets: runner <= 1.5x raw loop,
and runner <= 2x the in-graph epoch (with its per-step logging).
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.engine.quiet import import_tensorflow_quietly

import_tensorflow_quietly()
import keras
import numpy as np
import tensorflow as tf

from experiments.config.settings import resolve
from experiments.engine import epoch_loop, training
from experiments.engine.models import build_mlp

TARGET = 1.5
TARGET_IN_GRAPH = 2.0


def runner_ms(config, with_callbacks, own_loop=True):
    saved, training.OWN_LOOP = training.OWN_LOOP, own_loop
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            callbacks = None if with_callbacks else (lambda *args: [])  # None: the runner's own
            return training.train_run(config, run_dir, callbacks=callbacks)["metrics"]["ms_per_update"]
    finally:
        training.OWN_LOOP = saved


def _model_and_step(dataset, config):
    keras.utils.set_random_seed(config["seed"])
    model = build_mlp(dataset.num_features, dataset.num_classes, config["width"], config["depth"])
    optimizer = keras.optimizers.SGD(config["learning_rate"])
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    return model, step


def keras_fit_ms(dataset, config, batch_size, epochs):
    keras.utils.set_random_seed(config["seed"])
    model = build_mlp(dataset.num_features, dataset.num_classes, config["width"], config["depth"])
    model.compile(keras.optimizers.SGD(config["learning_rate"]), "sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = training.UpdateTimer()
    model.fit(dataset.x_train, dataset.y_train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[timer])
    return 1e3 * statistics.median(timer.epoch_seconds[1:]) / math.ceil(len(dataset.x_train) / batch_size)


def raw_loop_ms(dataset, config, batch_size, epochs):
    _, step = _model_and_step(dataset, config)
    batches = training.training_batches(dataset, batch_size, config["seed"])
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in batches:
            step(x, y)
        seconds.append(time.perf_counter() - start)
    return 1e3 * statistics.median(seconds[1:]) / math.ceil(len(dataset.x_train) / batch_size)


def raw_graph_ms(dataset, config, batch_size, epochs):
    _, step = _model_and_step(dataset, config)
    x_all, y_all = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
    n = len(dataset.x_train)
    steps = math.ceil(n / batch_size)

    @tf.function
    def epoch():
        order = tf.random.shuffle(tf.range(n))
        for i in tf.range(steps):
            index = order[i * batch_size : (i + 1) * batch_size]
            step(tf.gather(x_all, index), tf.gather(y_all, index))

    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        epoch()
        seconds.append(time.perf_counter() - start)
    return 1e3 * statistics.median(seconds[1:]) / steps


def keras_graph_ms(dataset, config, batch_size, epochs):
    keras.utils.set_random_seed(config["seed"])
    model = build_mlp(dataset.num_features, dataset.num_classes, config["width"], config["depth"])
    loss = "sparse_categorical_crossentropy"
    model.compile(keras.optimizers.SGD(config["learning_rate"]), loss, metrics=["accuracy"])
    x, y = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
    epoch_loop.build_training_state(model, x[:2], y[:2])
    steps = math.ceil(len(dataset.x_train) / batch_size)
    orders = epoch_loop.epoch_orders(dataset, config["seed"], "each_epoch", epochs)
    # The runner's compiled steps, a whole epoch per call: Keras's step fed as the runner feeds it.
    run_steps = epoch_loop.compiled_steps(model)
    arguments = [tf.constant(v, tf.int64) for v in (batch_size, 0, steps)]
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        run_steps(x, y, orders[epoch], *arguments)
        seconds.append(time.perf_counter() - start)
    return 1e3 * statistics.median(seconds[1:]) / steps


def _loops(config, dataset, batch_size, epochs):
    """{name: a function timing that loop on one configuration}."""
    return {
        "runner (as run.py trains)": lambda: runner_ms(config, True),
        "runner, no callbacks": lambda: runner_ms(config, False),
        "runner through Keras's fit": lambda: runner_ms(config, True, own_loop=False),
        "keras fit on numpy": lambda: keras_fit_ms(dataset, config, batch_size, epochs),
        "raw tf.function loop": lambda: raw_loop_ms(dataset, config, batch_size, epochs),
        "raw in-graph epoch": lambda: raw_graph_ms(dataset, config, batch_size, epochs),
        "Keras's step, in-graph epoch": lambda: keras_graph_ms(dataset, config, batch_size, epochs),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="16,128")
    args = parser.parse_args()
    keras.utils.disable_interactive_logging()
    met = True
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        config = resolve({"optimizer": "sgd", "learning_rate": 0.01, "batch_size": batch_size, "epochs": args.epochs})
        dataset = training.get_dataset(config)
        loops = _loops(config, dataset, batch_size, args.epochs)
        times = {name: [] for name in loops}
        for _ in range(args.repeats):  # interleaved: a slow spell of the machine hits every loop
            for name, measure in loops.items():
                times[name].append(measure())
        raw = statistics.median(times["raw tf.function loop"])
        print(f"\nbatch size {batch_size} ({math.ceil(len(dataset.x_train) / batch_size)} updates per epoch), "
              f"median of {args.repeats} (min-max):")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:<30} {median:7.3f} ms/update ({min(values):.3f}-{max(values):.3f})  "
                  f"{median / raw:5.2f}x raw loop")
        ratio = statistics.median(times["runner (as run.py trains)"]) / raw
        ok = ratio <= TARGET
        met &= ok
        print(f"  target runner <= {TARGET}x raw loop: {'PASS' if ok else 'MISS'} ({ratio:.2f}x)")
        # Per repeat, then the median: both loops ran in the same slow or quick spell.
        in_graph = statistics.median(
            a / b for a, b in zip(times["runner (as run.py trains)"], times["raw in-graph epoch"])
        )
        ok = in_graph <= TARGET_IN_GRAPH
        met &= ok
        print(f"  target runner <= {TARGET_IN_GRAPH}x in-graph epoch: {'PASS' if ok else 'MISS'} ({in_graph:.2f}x)")
        keras_floor = statistics.median(
            a / b for a, b in zip(times["Keras's step, in-graph epoch"], times["raw in-graph epoch"])
        )
        print(f"  of which Keras's step: {keras_floor:.2f}x; the runner's calls and callbacks: "
              f"{in_graph / keras_floor:.2f}x")
    print(f"\nmachine: {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}, numpy {np.__version__}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
