"""One training run: settings in, a record out (status, reason, metrics). Never raises for a
run that diverges; a run that raises is turned into a `failed` record by the runner."""

import math
import os
import time

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
from experiments.config.versions import package_versions
from experiments.engine import (
    compiled_models,
    epoch_loop,
    factory,
    fingerprints,
    models,
    outcomes,
    run_directory,
    validation_pass,
)

# The data pipeline's functions, where the tests and benchmarks have always found them.
from experiments.engine.pipeline import (  # noqa: F401
    ShuffledBatches,
    get_dataset,
    training_batches,
    training_tensors,
    validation_batches,
    validation_tensors,
)

# This process's engine (`configure`): compiled models reused across runs
# (experiments/engine/compiled_models.py), None for one fresh model per run; and, on TensorFlow's
# default strategy, the runner's own loop (experiments/engine/epoch_loop.py) rather than `fit`.
COMPILED_MODELS = compiled_models.CompiledModels()
OWN_LOOP = True


def configure(engine_options):
    """Sets how this process trains its runs (config.options.EngineOptions); a pool calls it
    in each worker it starts."""
    global COMPILED_MODELS, OWN_LOOP
    if not engine_options.reuse_models:
        COMPILED_MODELS = None
    elif COMPILED_MODELS is None:
        COMPILED_MODELS = compiled_models.CompiledModels()
    OWN_LOOP = not engine_options.keras_fit


class UpdateTimer(keras.callbacks.Callback):
    """Wall time of the training part of each epoch (validation excluded), and updates per epoch."""

    def __init__(self):
        super().__init__()
        self.epoch_seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        # fit's validation pass starts here: the epoch's training part is over.
        if self._start is not None:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_epoch_end(self, epoch, logs=None):
        self.on_test_begin()


class EarlyLossRecorder(keras.callbacks.Callback):
    """Training loss of each of the first `num_steps` steps (the notes' "early steps").

    Keras reports at batch end the running mean of the epoch's losses so far; the loss of the
    steps since the previous report is recovered from two consecutive means. With
    `steps_per_execution=1` that is the loss of every single step.
    """

    def __init__(self, num_steps):
        super().__init__()
        self.num_steps = num_steps
        self.steps, self.losses = [], []
        self._previous = (0, 0.0)  # (steps seen this epoch, their mean loss)

    def on_epoch_begin(self, epoch, logs=None):
        self._previous = (0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        if len(self.losses) >= self.num_steps or not logs or "loss" not in logs:
            return
        seen, mean = batch + 1, float(logs["loss"])
        previous_seen, previous_mean = self._previous
        self._previous = (seen, mean)
        self.steps.append(int(self.model.optimizer.iterations.numpy()))
        self.losses.append((seen * mean - previous_seen * previous_mean) / (seen - previous_seen))


def compile_model(model, config, steps_per_epoch, dataset=None):
    """Compiles `model` for `config`; with `dataset`, also builds its compiled metrics and
    optimizer (`epoch_loop.build_training_state`)."""
    backend = keras.backend.backend()
    model.compile(
        optimizer=factory.make_optimizer(config, steps_per_epoch),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # JAX without jit runs op by op; its compiled step is XLA's.
        jit_compile=config["jit_compile"] or backend == "jax",
        # Several steps per call of the compiled train function: on a model this small, Keras's
        # per-call Python overhead otherwise costs more than the step itself. Keras's PyTorch
        # trainer takes one step per call only.
        steps_per_execution=1 if backend == "torch" else config["steps_per_execution"],
    )
    if dataset is not None and backend == "tensorflow" and config["distribute"] == "none":
        epoch_loop.build_training_state(model, dataset.x_train[:2], dataset.y_train[:2])


def train_run(config, run_dir, verbose=0, callbacks=None):
    """Trains the model `config` describes, logging to `run_dir`; returns the run's record.

    `callbacks(config, run_dir, probe, start_loss)` returns the run's logging callbacks; the
    default is `make_callbacks`, and `callbacks=lambda *args: []` trains without them.
    """
    started = time.perf_counter()
    os.makedirs(run_dir, exist_ok=True)
    if config["backend"] != keras.backend.backend():
        raise RuntimeError(
            f"backend={config['backend']!r} asked for, but this process runs Keras on {keras.backend.backend()!r}"
        )
    # keras.utils.set_random_seed, keeping the compiled kernels of reused models (compiled_models.py).
    compiled_models.seed_run(config, reusing_models=COMPILED_MODELS is not None)
    dataset = get_dataset(config)
    num_train = len(dataset.x_train)
    batch_size = num_train if config["batch_size"] == "full" else min(config["batch_size"], num_train)
    steps_per_epoch = math.ceil(num_train / batch_size)

    model, reused, replicas = _model_for(config, dataset, steps_per_epoch)
    timer = UpdateTimer()
    early = EarlyLossRecorder(config["record_steps"])
    probe = (dataset.x_train[:batch_size], dataset.y_train[:batch_size])
    visibility = (callbacks or make_callbacks)(config, run_dir, probe, initial_loss(model, probe))
    # TensorFlow without a strategy: our own validation pass, the numbers of Keras's for a
    # fraction of its cost (experiments/engine/validation_pass.py), and our own loop. Elsewhere Keras's, in fit.
    own_validation = config["backend"] == "tensorflow" and config["distribute"] == "none"
    own_loop = own_validation and OWN_LOOP
    if own_loop:  # before the fingerprint, which then reads the first of them (drawn once)
        orders = epoch_loop.epoch_orders(dataset, config["seed"], config["shuffle"], config["epochs"])
    fingerprint = fingerprints.of_run(model, dataset, config)
    # The timer first (the epoch's training part ends where validation starts), then the
    # validation pass, before the callbacks that read its logs.
    if own_validation:
        fit_callbacks = [timer, validation_pass.ValidationPass(*validation_tensors(dataset)), early, *visibility]
    else:
        fit_callbacks = [timer, early, *visibility]
    history = _fit(model, config, dataset, batch_size, fit_callbacks, orders if own_loop else None, verbose)
    if own_validation:
        halves = halves_of(validation_pass.evaluate(model, *validation_tensors(dataset))[2], dataset)
    else:
        halves = validation_halves(model, dataset)
    if COMPILED_MODELS is not None and config["distribute"] == "none":
        COMPILED_MODELS.release(config, model)
    guard = next((c for c in visibility if isinstance(c, DivergenceGuard)), None)
    status, reason = ("diverged", guard.record["message"]) if guard and guard.record else ("ok", "")
    metrics = {**final_metrics(history.history, timer, steps_per_epoch, batch_size), **halves}
    gradients = next((c for c in visibility if isinstance(c, GradientStatistics)), None)
    if gradients and gradients.latest:
        metrics["gradient_norms"] = gradients.latest.get("gradient_norms")
    record = {
        "status": status,
        "reason": reason,
        "dataset": dataset.name,
        "metrics": metrics,
        "epochs_completed": len(history.history.get("loss", [])),
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
        "wall_time_s": time.perf_counter() - started,
        "reused_compiled_model": reused,
        "versions": package_versions(),
        "replicas": replicas,
        "initial_loss": guard.initial_loss if guard else None,  # outcomes: did the loss ever fall below it?
        "fingerprint": fingerprint,  # initial weights and data order: what pairing by seed checks
    }
    if early.losses:
        record["early_steps"] = {"step": early.steps, "loss": early.losses}
    write_hparams(run_dir, {**config, "outcome": outcomes.classify({**record, "config": config})[0]}, metrics)
    return record


def _model_for(config, dataset, steps_per_epoch):
    """The run's compiled model: fresh, or reused from this process's cache; whether it was
    reused, and the number of replicas it trains on."""
    build = lambda: models.build_model(config, dataset)  # noqa: E731
    compile_ = lambda model: compile_model(model, config, steps_per_epoch, dataset)  # noqa: E731
    if config["distribute"] != "none":
        # Under MirroredStrategy the model's and optimizer's variables are mirrored on every
        # replica and each batch of `batch_size` (the global batch) is split between them.
        strategy = distribution_strategy(config["distribute"])
        with strategy.scope():
            model, reused = build(), False
            compile_(model)
        replicas = strategy.num_replicas_in_sync
    elif COMPILED_MODELS is None:
        model, reused, replicas = build(), False, 1
        compile_(model)
    else:
        rate = lambda: factory.make_learning_rate(config, steps_per_epoch)  # noqa: E731
        (model, reused), replicas = COMPILED_MODELS.acquire(config, build, compile_, rate), 1
    return model, reused, replicas


def _fit(model, config, dataset, batch_size, fit_callbacks, orders, verbose):
    """Trains `model`: with the runner's own loop over `orders`, else with Keras's `fit`."""
    own_validation = config["backend"] == "tensorflow" and config["distribute"] == "none"
    if orders is not None:  # the runner's own loop
        x, y = training_tensors(dataset)
        history = epoch_loop.fit(model, x, y, orders, batch_size, config["epochs"], fit_callbacks, verbose=verbose)
    else:
        if config["backend"] == "tensorflow":
            train = training_batches(dataset, batch_size, config["seed"], config["shuffle"])
            validation = None if own_validation else validation_batches(dataset)
        else:
            train = ShuffledBatches(dataset.x_train, dataset.y_train, batch_size, config["seed"])
            validation = (dataset.x_val, dataset.y_val)
        history = model.fit(
            train,
            epochs=config["epochs"],
            validation_data=validation,
            validation_batch_size=None if config["backend"] == "tensorflow" else validation_pass.BATCH_SIZE,
            shuffle=False,  # the pipeline reshuffles; Keras's flag applies to arrays only
            callbacks=fit_callbacks,
            verbose=verbose,
        )
    return history


def final_metrics(history, timer, steps_per_epoch, batch_size):
    def last(key):
        values = history.get(key) or [math.nan]
        return float(values[-1])

    # The first epoch includes tracing and compilation: time per update from the others.
    steady = timer.epoch_seconds[1:] or timer.epoch_seconds
    seconds_per_epoch = float(np.median(steady)) if steady else math.nan
    losses = history.get("loss") or []
    return {
        # Epochs whose training loss rose above the previous epoch's: oscillation, the notes'
        # "bouncing back and forth", short of divergence.
        "loss_increases": int(sum(b > a for a, b in zip(losses, losses[1:]))),
        "train_loss": last("loss"),
        "train_accuracy": last("accuracy"),
        "val_loss": last("val_loss"),
        "val_accuracy": last("val_accuracy"),
        "best_val_accuracy": float(np.nanmax(history.get("val_accuracy") or [math.nan])),
        "updates_per_epoch": steps_per_epoch,
        "effective_batch_size": batch_size,
        "ms_per_update": 1e3 * seconds_per_epoch / steps_per_epoch,
        "samples_per_second": steps_per_epoch * batch_size / seconds_per_epoch,
    }


HALVES_SEED = 0  # the same two halves of the validation set for every run


def validation_halves(model, dataset, batch_size=1024):
    """The trained model's loss and accuracy on two fixed, disjoint halves of the validation set,
    `val_loss_half_a` ... `val_accuracy_half_b`: a selection made on one half is reported on the
    other (random restarts' best of N, experiments/evidence/claims.py)."""
    # One forward pass over the whole set (each eager call costs ~5 ms of Keras's Python).
    probabilities = np.concatenate([
        keras.ops.convert_to_numpy(model(dataset.x_val[start : start + batch_size], training=False))
        for start in range(0, len(dataset.x_val), batch_size)
    ] or [np.zeros((0, dataset.num_classes))])
    return halves_of(probabilities, dataset)


def halves_of(probabilities, dataset):
    """`validation_halves` from the model's outputs on the validation set, in its order."""
    order = np.random.default_rng(HALVES_SEED).permutation(len(dataset.x_val))
    middle = len(order) // 2
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not probabilities.size:
        probabilities = np.zeros((0, dataset.num_classes))
    labels = dataset.y_val.astype(int)
    picked = probabilities[np.arange(len(labels)), labels]
    losses = -np.log(np.clip(picked, 1e-7, None))  # Keras's clipping of probabilities
    correct = np.argmax(probabilities, axis=1) == labels
    result = {}
    for half, rows in (("a", order[:middle]), ("b", order[middle:])):
        result[f"val_loss_half_{half}"] = float(np.mean(losses[rows])) if len(rows) else math.nan
        result[f"val_accuracy_half_{half}"] = float(np.mean(correct[rows])) if len(rows) else math.nan
    return result


def initial_loss(model, probe):
    """The loss before training, on the probe batch: the divergence guard's reference."""
    x, y = probe
    losses = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False))
    return max(float(keras.ops.mean(losses)), 1e-12)


def make_callbacks(config, run_dir, probe, start_loss):
    """The run's TensorBoard logging and divergence guard, in the order they must run:
    learning rate, gradient statistics (the guard reads its gradient norm), optimizer state,
    the guard, the per-epoch metrics file, then the epoch curves (Keras's TensorBoard tags)."""
    gradients = GradientStatistics(
        probe, run_dir, log_every_n_steps=config["stats_every_steps"], histogram_every_n_steps=None
    )
    return [
        LearningRateLogger(run_dir, log_every_n_steps=config["log_every_steps"]),
        gradients,
        OptimizerStateStatistics(run_dir, log_every_n_steps=config["stats_every_steps"], histogram_every_n_steps=None),
        DivergenceGuard(
            run_dir, max_loss_ratio=config["divergence_factor"], initial_loss=start_loss, gradient_statistics=gradients,
            rollback=config["divergence_rollback"],
        ),
        # No fsync per epoch: a run that did not finish has no record.json and is trained again.
        MetricsFile(os.path.join(run_dir, run_directory.METRICS_FILE), fsync=False),
        EpochSummaries(run_dir),
    ]


def distribution_strategy(name):
    """"none": TensorFlow's default strategy (one device); "mirrored": MirroredStrategy over the
    visible GPUs, or over the CPU's logical devices where there is no GPU."""
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def write_hparams(run_dir, config, metrics):
    """The run's hyperparameters for TensorBoard's HParams dashboard, in the run's own directory."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    hparams = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in config.items()}
    with tf.summary.create_file_writer(run_dir).as_default():
        hp.hparams(hparams)
