"""Compiled models kept alive across the runs of one process: trace the train step once, not per run.

Tracing and compiling Keras's train and test functions costs seconds; a digits run trains for a
fraction of one. Runs that share an architecture and an optimizer (class, and the settings that
stay constants of the traced graph) share one compiled model here. Between runs it is reset to
exactly the state a fresh build would start from:

- weights: those a fresh build from the run's seed draws. Each layer's initializers are called
  again with their seeds moved by the change of run seed (the builder derives each layer's seed
  from the run's); the first reuse of each model checks this against a fresh build, and a model
  where it does not hold is reset from a fresh build every time (built, not compiled, copied);
- optimizer: every variable (iteration count, moments, accumulators) back to its value right
  after `optimizer.build`, then the run's learning rate assigned to the rate's variable (Keras
  keeps a float learning rate in a variable, so the traced step reads the new value), and the
  run's momentum, rho, betas and epsilon to theirs (ours hold them in variables too); for a
  schedule, the run's schedule's held rates copied into the traced one;
- compiled metrics are reset by `fit` at every epoch.

What may differ between runs sharing an entry is what `compiled_key` leaves out: the seed, the
logging settings, the data's scaling and order, and (for a constant learning rate) the learning
rate, the number of epochs, the batch size and the number of examples; for our optimizers, the
number hyperparameters they hold in variables (but whether momentum is zero); on TensorFlow, the
rate of a schedule that holds it in variables (`HELD_RATE_SCHEDULES`).
Everything else, including settings this module does not know, keeps runs apart.

Seeding: each run starts with `seed_run`, `keras.utils.set_random_seed(seed)` less one side
effect. TensorFlow's `tf.random.set_seed` also clears the eager context's kernel cache, which
resets the counters of stateful random kernels (`tf.random.uniform` without a seed) and drops
every instantiated function with them: the next call of each compiled train, test and probe
function is optimized and instantiated again, ~0.15 s per run on a digits MLP (about half of a
10-epoch run's optimizer steps). The built-in models (`mlp`, `cnn`) and pipelines draw only
stateless random numbers (Keras's seeded initializers and dropout, tf.data's shuffle with its
own seeds), so when a compiled model is reused for one of them the cache is kept;
tests/test_run_cache.py checks the records against a fresh process. A user's model builder, a
distributed run and the one-model-per-run path seed exactly as `keras.utils.set_random_seed` does.

`compiled_key` imports nothing heavy: the worker pools call it in a process without TensorFlow to
send runs of one key to the same worker.
"""

import collections
import json
import sys

import numpy as np

# Settings that never reach the traced graphs: callbacks and the loop read them in Python.
RUNTIME_SETTINGS = (
    "seed", "log_every_steps", "stats_every_steps", "record_steps", "divergence_factor", "chance_margin",
)  # fmt: skip
# How the examples are scaled and ordered: the data reach the compiled train and test functions
# as iterators passed in, whose batches have an unknown batch dimension.
PIPELINE_SETTINGS = ("input_scaling", "shuffle")
# Read by the traced graph only through a schedule (the rate, and the steps per epoch it counts
# in, from the batch size and the number of examples): free when the learning rate is a constant.
CONSTANT_RATE_SETTINGS = ("learning_rate", "epochs", "batch_size", "limit")
# The schedules (experiments/engine/factory.py) whose rate ours hold in variables: on TensorFlow the
# traced step reads the rate a reset assigns (JAX's compiled step would capture it). Their
# lengths (in steps: batch size, epochs, examples) stay in the key. Not cosine, whose warm-up
# form computes with the rate in Python.
HELD_RATE_SCHEDULES = ("constant", "inverse_time", "exponential", "inverse_sqrt", "piecewise")
# The number hyperparameters our optimizers hold in variables (optimizers/hyperparameters.py), as
# Keras holds a number rate: the traced step reads the values a reset assigns. Whether momentum
# is zero stays in the key: it decides whether there are momentum buffers. Keras's own
# optimizers bake theirs into the graph. tests/test_run_cache.py checks this against the classes.
HELD_HYPERPARAMETERS = {
    "sgd": ("momentum",),
    "adagrad": ("epsilon",),
    "rmsprop": ("rho", "momentum", "epsilon"),
    "adam": ("beta_1", "beta_2", "epsilon"),
}


# Compiled models a process keeps: the MLP experiments need ~20 per worker (32 instead of 8
# raised a worker's peak memory on them from 1.10 to 1.15 GB).
CAPACITY = 32

# Redrawn initial weights an entry keeps, by seed (a digits MLP's are ~0.1 MB).
SEEDS_KEPT = 16

# Model families whose builders draw only stateless random numbers (experiments/engine/models.py).
STATELESS_MODELS = ("mlp", "cnn")


def seed_run(config, reusing_models):
    """Seeds Python, numpy, TensorFlow and Keras from `config["seed"]` as
    `keras.utils.set_random_seed` does; keeps TensorFlow's compiled kernels when `reusing_models`
    and the run's model draws no stateful random numbers (see the module's docstring)."""
    import keras

    keep = reusing_models and config["model"] in STATELESS_MODELS and config["distribute"] == "none"
    if not keep or "tensorflow" not in sys.modules:
        keras.utils.set_random_seed(config["seed"])
        return
    from tensorflow.python import pywrap_tfe

    # tf.random.set_seed sets the global seed, then calls this to clear the kernel cache.
    # Should TensorFlow stop calling it by this name, the cache is cleared: slower, same numbers.
    clear = pywrap_tfe.TFE_ContextClearCaches
    pywrap_tfe.TFE_ContextClearCaches = lambda handle: None
    try:
        keras.utils.set_random_seed(config["seed"])
    finally:
        pywrap_tfe.TFE_ContextClearCaches = clear


def has_constant_learning_rate(config):
    """Whether the optimizer gets a float rate (a variable), not a schedule (constants in the graph)."""
    return config["schedule"] == "constant" and not config["warmup_epochs"]


def compiled_key(config):
    """Runs with equal keys can share one compiled model."""
    free = {*RUNTIME_SETTINGS, *PIPELINE_SETTINGS, *held_hyperparameters(config)}
    if has_constant_learning_rate(config):
        free.update(CONSTANT_RATE_SETTINGS)
    elif config["schedule"] in HELD_RATE_SCHEDULES and config["backend"] == "tensorflow":
        free.add("learning_rate")
    key = {k: v for k, v in config.items() if k not in free}
    if "momentum" in free:
        key["momentum_is_zero"] = not config["momentum"]
    return json.dumps(key, sort_keys=True)


def held_hyperparameters(config):
    """`{name: value}` of the run's hyperparameters its optimizer holds in variables."""
    return {name: config[name] for name in HELD_HYPERPARAMETERS.get(config["optimizer"], ())}


def redrawn_weights(model, seed_shift):
    """`{variable path: value}` from each layer's initializers with their seeds moved by
    `seed_shift`, or None when a variable has no `<name>_initializer` on its layer."""
    values = {}
    for layer in model.layers:
        for variable in layer.weights:
            initializer = getattr(layer, f"{variable.name}_initializer", None)
            if initializer is None:
                return None
            config = initializer.get_config()
            if isinstance(config.get("seed"), int):
                config["seed"] += seed_shift
            values[variable.path] = type(initializer).from_config(config)(variable.shape, dtype=variable.dtype)
    return values


def reset_optimizer(optimizer, variables, initial_values, learning_rate, held_values):
    """`optimizer` as a fresh run's: its `variables` (iterations, slots) back to `initial_values`,
    the run's `learning_rate` (a float, or a schedule whose held rates go into the traced one)
    and its held hyperparameters (`{name: value}`, optimizers/hyperparameters.py)."""
    from optimizers.hyperparameters import copy_held, set_held
    from optimizers.introspection import learning_rate_schedule

    for variable, value in zip(variables, initial_values):
        variable.assign(value)
    schedule = learning_rate_schedule(optimizer)
    if schedule is None:
        optimizer.learning_rate = learning_rate
    else:  # the run's schedule: its rates into the one the step was traced with
        copy_held(learning_rate, schedule)
    for name, value in held_values.items():
        set_held(optimizer, name, value)  # the variables were reset just above


class Entry:
    """One compiled model kept between runs, and what resetting it to a fresh run needs."""

    def __init__(self, model, seed):
        self.model, self.seed = model, seed
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        self.optimizer_variables = list(optimizer.variables)
        self.initial_optimizer_values = [v.numpy().copy() for v in self.optimizer_variables]
        self.train_function = None  # set after the first fit traced it
        self.redraw_checked = self.redraw_holds = False
        # {seed: redrawn values}: a sweep's configurations share a few seeds, and the stateless
        # initializers draw the same values for the same seed (~15 ms per digits MLP draw).
        self.drawn = collections.OrderedDict()

    def reset_weights(self, seed, build):
        import keras

        if self.redraw_checked and not self.redraw_holds:
            self.model.set_weights(build().get_weights())
            return
        values = self.drawn.get(seed)
        if values is not None:
            self.drawn.move_to_end(seed)
        else:
            values = redrawn_weights(self.model, seed - self.seed)
            if values is not None:
                # Host copies: a variable assigned a device array holds that very buffer, and
                # JAX's compiled step donates it; a kept array would be deleted by the run.
                values = {path: np.array(keras.ops.convert_to_numpy(value)) for path, value in values.items()}
        if not self.redraw_checked:
            fresh = {v.path: v.numpy() for v in build().weights}
            self.redraw_checked = True
            self.redraw_holds = values is not None and values.keys() == fresh.keys() and all(
                np.array_equal(np.asarray(values[path]), fresh[path]) for path in fresh
            )
            if not self.redraw_holds:
                values = fresh
        if self.redraw_holds and seed not in self.drawn:
            self.drawn[seed] = values
            if len(self.drawn) > SEEDS_KEPT:
                self.drawn.popitem(last=False)
        for variable in self.model.weights:
            variable.assign(values[variable.path])

    def reset(self, seed, build, learning_rate, held_values):
        self.reset_weights(seed, build)
        reset_optimizer(
            self.model.optimizer, self.optimizer_variables, self.initial_optimizer_values, learning_rate, held_values
        )

    def unchanged(self):
        """False when something (a callback) retraced the step, e.g. by wrapping the schedule."""
        return self.train_function is None or self.model.train_function is self.train_function


class CompiledModels:
    """Up to `capacity` compiled models of this process, least recently used dropped first."""

    def __init__(self, capacity=CAPACITY):
        self.capacity = capacity
        self._entries = collections.OrderedDict()
        self.hits = self.misses = 0

    def acquire(self, config, build, compile_model, learning_rate):
        """The model to train `config` with, and whether it was reused.

        `build()` returns the run's freshly built (uncompiled) model; `compile_model(model)`
        compiles it; `learning_rate()` returns the run's rate, a float or a schedule
        (`factory.make_learning_rate`). On a hit the fresh model only lends its weights to the
        compiled one, and the rate's values go into the compiled model's.
        Call `release(config, model)` after a run that ended normally; a run that raised
        leaves its entry out (its state is unknown).
        """
        key = compiled_key(config)
        entry = self._entries.pop(key, None)
        if entry is None:
            self.misses += 1
            model = build()
            compile_model(model)
            entry = Entry(model, config["seed"])
            reused = False
        else:
            self.hits += 1
            entry.reset(config["seed"], build, learning_rate(), held_hyperparameters(config))
            reused = True
        self._pending = (key, entry)
        return entry.model, reused

    def release(self, config, model):
        key, entry = self._pending
        self._pending = None
        if key != compiled_key(config) or entry.model is not model:
            raise ValueError("release() takes the config and model of the last acquire()")
        if entry.train_function is None:
            entry.train_function = model.train_function
        if not entry.unchanged():
            return
        self._entries[key] = entry
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def held(self):
        """The entries held now (`Entry`: the compiled model, its seeds' drawn weights), least
        recently used first."""
        return list(self._entries.values())

    def clear(self):
        self._entries.clear()
