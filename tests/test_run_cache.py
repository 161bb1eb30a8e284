"""Reused compiled models give the numbers of a fresh model: every metric and every history
value equal bit for bit, for each optimizer, with batch normalization, with a schedule, after a
run that diverged; and runs whose graphs differ never share a model. The callbacks' outputs too
(every scalar of the run's event files: gradient, weight and update norms from GradientStatistics'
reused probe functions, optimizer state, learning rates, Keras's epoch curves; metrics.jsonl):
a reused model keeps its traced probes and its compiled kernels across runs."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from experiments.config.settings import resolve
from experiments.engine import compiled_models, pipeline, training

TINY = {"epochs": 2, "limit": 240, "width": 8, "batch_size": 32, "stats_every_steps": 4, "log_every_steps": 2}
CASES = {
    "sgd": {"optimizer": "sgd", "learning_rate": 0.05},
    "sgd_nesterov": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "sgd_ema": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "momentum_form": "ema"},
    "adagrad": {"optimizer": "adagrad", "learning_rate": 0.05},
    "rmsprop_centered": {"optimizer": "rmsprop", "learning_rate": 0.003, "centered": True, "momentum": 0.5},
    "adam_amsgrad": {"optimizer": "adam", "learning_rate": 0.003, "amsgrad": True},
    "adam_no_bias_correction": {"optimizer": "adam", "learning_rate": 0.003, "bias_correction": False},
    "keras_adam": {"optimizer": "keras_adam", "learning_rate": 0.003},
    "batch_norm": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "batch_norm": True},
    "schedule": {"optimizer": "sgd", "learning_rate": 0.1, "schedule": "cosine", "warmup_epochs": 0.5},
    "exponential": {"optimizer": "sgd", "learning_rate": 0.1, "schedule": "exponential", "decay_rate": 0.5},
    "piecewise_warmup": {"optimizer": "adam", "learning_rate": 0.01, "schedule": "piecewise", "warmup_epochs": 0.5,
                         "boundaries_epochs": [1], "factors": [1.0, 0.1]},  # fmt: skip
    "warmup": {"optimizer": "sgd", "learning_rate": 0.1, "warmup_epochs": 1.0},
}
COMPARED = ("status", "reason", "history", "epochs_completed", "early_steps")


def numbers_of(record):
    """What must not depend on the path: everything but wall times and speed."""
    metrics = {k: v for k, v in record["metrics"].items() if k not in ("ms_per_update", "samples_per_second")}
    return {"metrics": metrics, **{k: record.get(k) for k in COMPARED}}


def _callback_outputs(run_dir):
    """Every scalar the run's event files hold (`{(directory, tag): {step: value}}`, histograms
    and texts as lists) and metrics.jsonl's rows less their times; NaN as the string "nan"."""

    def plain(value):
        value = value.tolist() if hasattr(value, "tolist") else value
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, bytes):
            return value.decode()
        return "nan" if isinstance(value, float) and math.isnan(value) else value

    outputs = {}
    for directory in ("train", "validation"):
        accumulator = event_accumulator.EventAccumulator(
            os.path.join(run_dir, directory), size_guidance={event_accumulator.TENSORS: 0}
        ).Reload()
        for tag in accumulator.Tags()["tensors"]:
            events = accumulator.Tensors(tag)
            outputs[(directory, tag)] = {e.step: plain(tensor_util.make_ndarray(e.tensor_proto)) for e in events}
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    outputs["metrics.jsonl"] = [{k: v for k, v in row.items() if k not in ("time", "elapsed_seconds")} for row in rows]
    return outputs


def assert_same_outputs(run_dir, reference_dir):
    outputs, reference = _callback_outputs(run_dir), _callback_outputs(reference_dir)
    assert any(isinstance(key, tuple) and key[1].startswith("gradients/norm/") for key in outputs)  # probes ran
    assert outputs.keys() == reference.keys()
    for key in reference:
        assert outputs[key] == reference[key], key


def _other_held_values(config):
    held = compiled_models.held_hyperparameters(config)
    return {name: value * 10 if name == "epsilon" else value / 2 for name, value in held.items()}


def _train(config, run_dir, cache):
    saved = training.COMPILED_MODELS
    training.COMPILED_MODELS = cache
    try:
        return training.train_run(config, str(run_dir))
    finally:
        training.COMPILED_MODELS = saved


@pytest.mark.parametrize("case", list(CASES))
def test_reused_model_gives_the_fresh_models_numbers(case, tmp_path):
    settings = {**TINY, **CASES[case], "record_steps": 5}
    config = resolve({**settings, "seed": 2})
    cache = compiled_models.CompiledModels()
    # The entry first trains another seed on other data (scaling, order), with other values of
    # the hyperparameters our optimizers hold in variables (momentum stays nonzero) and, with a
    # constant rate, with another rate, length, batch size and number of examples: what the key
    # leaves free.
    other_data = {"seed": 1, "input_scaling": "raw", "shuffle": "once", **_other_held_values(config)}
    if compiled_models.has_constant_learning_rate(config):
        first = resolve({**settings, **other_data, "learning_rate": settings["learning_rate"] * 3, "epochs": 1,
                         "batch_size": 16, "limit": 200})  # fmt: skip
    elif config["schedule"] in compiled_models.HELD_RATE_SCHEDULES:  # the schedule holds its rate
        first = resolve({**settings, **other_data, "learning_rate": settings["learning_rate"] * 3})
    else:
        first = resolve({**settings, **other_data})
    warm = _train(first, tmp_path / "first", cache)
    assert warm["reused_compiled_model"] is False
    reused = _train(config, tmp_path / "reused", cache)
    fresh = _train(config, tmp_path / "fresh", None)
    assert reused["reused_compiled_model"] is True and fresh["reused_compiled_model"] is False
    assert numbers_of(reused) == numbers_of(fresh)
    assert_same_outputs(tmp_path / "reused", tmp_path / "fresh")


def test_the_held_hyperparameters_are_those_the_optimizers_hold_in_variables():
    import keras

    from experiments.engine import factory
    from optimizers import hyperparameters

    for name in [*compiled_models.HELD_HYPERPARAMETERS, "keras_sgd", "keras_adam"]:
        config = resolve({"optimizer": name, "momentum": 0.5})
        optimizer = factory.make_optimizer(config, steps_per_epoch=10)
        assert isinstance(optimizer, keras.optimizers.Optimizer)
        assert set(hyperparameters.held(optimizer)) == set(compiled_models.held_hyperparameters(config)), name


def test_configurations_that_share_a_value_object_each_get_their_value(tmp_path):
    # A sweep's configurations come from one spec: their numbers are shared objects, and
    # TensorFlow's optimizers skip setting an attribute to the object it already holds.
    high = 0.99
    settings = {**TINY, "optimizer": "sgd", "seed": 0}
    cache = compiled_models.CompiledModels()
    _train(resolve({**settings, "momentum": 0.9, "learning_rate": 0.01}), tmp_path / "a", cache)
    _train(resolve({**settings, "momentum": high, "learning_rate": 0.001}), tmp_path / "b", cache)
    config = resolve({**settings, "momentum": high, "learning_rate": 0.01})
    assert config["momentum"] is high
    reused = _train(config, tmp_path / "c", cache)
    assert reused["reused_compiled_model"] is True
    assert numbers_of(reused) == numbers_of(_train(config, tmp_path / "fresh", None))


def test_a_seed_drawn_before_starts_from_the_same_weights(tmp_path):
    settings = {**TINY, "optimizer": "sgd", "momentum": 0.9, "batch_norm": True}
    cache = compiled_models.CompiledModels()
    for i, (seed, learning_rate) in enumerate([(1, 0.05), (2, 0.05), (1, 0.02), (2, 0.02)]):
        last = _train(resolve({**settings, "seed": seed, "learning_rate": learning_rate}), tmp_path / str(i), cache)
    (entry,) = cache.held()
    assert list(entry.drawn) == [1, 2]  # the last two runs took their weights from here
    config = resolve({**settings, "seed": 2, "learning_rate": 0.02})
    assert numbers_of(last) == numbers_of(_train(config, tmp_path / "fresh", None))


@pytest.mark.parametrize("schedule", compiled_models.HELD_RATE_SCHEDULES)
def test_a_traced_schedule_takes_another_runs_rates(schedule):
    import tensorflow as tf

    from experiments.engine import factory
    from optimizers import hyperparameters

    def make(learning_rate):
        config = resolve({"learning_rate": learning_rate, "schedule": schedule, "warmup_epochs": 1.0,
                          "boundaries_epochs": [2, 3], "factors": [1.0, 0.3, 0.1]})  # fmt: skip
        return factory.make_learning_rate(config, steps_per_epoch=4)

    def traced_rates(schedule):  # as the optimizer's step computes them, in a graph
        return tf.function(lambda steps: tf.stack([schedule(s) for s in steps]))

    traced, other = make(0.1), make(0.037)
    rates = traced_rates(traced)
    steps = [tf.constant(s, tf.int64) for s in range(0, 24, 3)]
    first = rates(steps).numpy()
    hyperparameters.copy_held(other, traced)
    np.testing.assert_array_equal(rates(steps).numpy(), traced_rates(other)(steps).numpy())
    assert rates.experimental_get_tracing_count() == 1 and not np.array_equal(first, rates(steps).numpy())


def test_after_a_diverged_run_the_next_run_starts_clean(tmp_path):
    settings = {**TINY, "optimizer": "adam", "amsgrad": True}
    cache = compiled_models.CompiledModels()
    diverged = _train(resolve({**settings, "learning_rate": 1e6, "seed": 1}), tmp_path / "bad", cache)
    assert diverged["status"] == "diverged"
    config = resolve({**settings, "learning_rate": 0.003, "seed": 1})
    reused = _train(config, tmp_path / "reused", cache)
    assert reused["reused_compiled_model"] is True and reused["status"] == "ok"
    assert numbers_of(reused) == numbers_of(_train(config, tmp_path / "fresh", None))
    assert_same_outputs(tmp_path / "reused", tmp_path / "fresh")


def test_reused_model_equals_a_fresh_process(tmp_path):
    """The strongest reference: a new Python process that trains only this run."""
    settings = {**TINY, "optimizer": "rmsprop", "learning_rate": 0.003, "batch_norm": True}
    config = resolve({**settings, "seed": 4})
    cache = compiled_models.CompiledModels()
    _train(resolve({**settings, "seed": 3, "learning_rate": 0.01}), tmp_path / "first", cache)
    reused = _train(config, tmp_path / "reused", cache)
    script = (
        "import json, sys; from experiments.config.options import EngineOptions; "
        "from experiments.engine import training; training.configure(EngineOptions(reuse_models=False)); "
        "record = training.train_run(json.loads(sys.argv[1]), sys.argv[2]); print(json.dumps(record))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(config), str(tmp_path / "process")],
        check=True, capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.dirname(__file__)),
    ).stdout  # fmt: skip
    fresh = json.loads(out.strip().splitlines()[-1])
    assert fresh["reused_compiled_model"] is False
    assert numbers_of(reused) == numbers_of(fresh)
    assert_same_outputs(tmp_path / "reused", tmp_path / "process")


def test_runs_that_trace_different_graphs_do_not_share_a_model():
    base = resolve({"optimizer": "sgd", "learning_rate": 0.1})
    key = compiled_models.compiled_key
    # Free: the seed, logging, the data's scaling and order, and a constant rate with the run's
    # length, batch size and number of examples.
    assert key(base) == key({**base, "seed": 7, "learning_rate": 0.5, "epochs": 3, "log_every_steps": 32,
                             "batch_size": 64, "input_scaling": "raw", "limit": 100, "shuffle": "sorted"})
    # Apart: anything in the graph.
    for change in ({"momentum": 0.9}, {"nesterov": True}, {"dataset": "mnist1d"}, {"width": 16}, {"batch_norm": True},
                   {"optimizer": "keras_sgd"}, {"jit_compile": True}, {"steps_per_execution": 8}):  # fmt: skip
        assert key({**base, **change}) != key(base), change
    # Our optimizers hold momentum, rho, the betas and epsilon in variables; Keras's do not.
    momentum = {**base, "momentum": 0.9}
    assert key(momentum) == key({**momentum, "momentum": 0.99})
    changes = {"adam": {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}, "rmsprop": {"rho": 0.5, "epsilon": 1e-3},
               "adagrad": {"epsilon": 1e-3}}  # fmt: skip
    for name, change in changes.items():
        adaptive = resolve({"optimizer": name})
        assert key(adaptive) == key({**adaptive, **change}), name
    adagrad = resolve({"optimizer": "adagrad"})  # its initial accumulator is a build-time constant
    assert key(adagrad) != key({**adagrad, "initial_accumulator_value": 0.5})
    keras_adam = resolve({"optimizer": "keras_adam"})
    assert key(keras_adam) != key({**keras_adam, "beta_1": 0.8})
    # A schedule bakes its length into the graph, and cosine its rate; the others hold their
    # rate in variables, read by TensorFlow's traced step (JAX's would capture it).
    for name in compiled_models.HELD_RATE_SCHEDULES:
        piecewise = {"boundaries_epochs": [1], "factors": [1.0, 0.1]} if name == "piecewise" else {}
        scheduled = resolve({"learning_rate": 0.1, "schedule": name, "warmup_epochs": 1.0, **piecewise})
        assert key(scheduled) == key({**scheduled, "learning_rate": 0.2}), name
        assert key(scheduled) != key({**scheduled, "epochs": 3}), name
        on_jax = {**scheduled, "backend": "jax"}
        assert key(on_jax) != key({**on_jax, "learning_rate": 0.2}), name
    cosine = resolve({"optimizer": "sgd", "learning_rate": 0.1, "schedule": "cosine"})
    assert key(cosine) != key({**cosine, "learning_rate": 0.2})
    assert key(cosine) != key({**cosine, "epochs": 3})
    assert key(cosine) != key({**cosine, "batch_size": 64})  # the steps per epoch it counts in
    assert key(cosine) != key({**cosine, "limit": 100})
    assert key(cosine) == key({**cosine, "seed": 5})


@pytest.mark.parametrize("gathered", [False, True], ids=["small set", "large set, gathered by index"])
def test_training_batches_are_those_of_shuffling_the_examples_themselves(gathered, monkeypatch):
    import numpy as np
    import tensorflow as tf

    if gathered:
        monkeypatch.setattr(pipeline, "SMALL_TRAINING_SET_BYTES", 0)
    config = resolve({"limit": 150, "seed": 3})
    dataset = training.get_dataset(config)
    keras_seed = 3
    tf.random.set_seed(keras_seed)
    batches = training.training_batches(dataset, 32, 3)
    ours = [[(x.numpy(), y.numpy()) for x, y in batches] for _ in range(2)]
    tf.random.set_seed(keras_seed)
    reference = (
        tf.data.Dataset.from_tensor_slices((dataset.x_train, dataset.y_train))
        .shuffle(len(dataset.x_train), seed=3, reshuffle_each_iteration=True)
        .batch(32)
    )
    expected = [[(x.numpy(), y.numpy()) for x, y in reference] for _ in range(2)]
    assert ours[0][0][0].shape == (32, dataset.num_features)
    assert not np.array_equal(ours[0][0][1], ours[1][0][1])  # reshuffled each epoch
    for epoch_ours, epoch_expected in zip(ours, expected):
        assert len(epoch_ours) == len(epoch_expected)
        for (x, y), (x_ref, y_ref) in zip(epoch_ours, epoch_expected):
            np.testing.assert_array_equal(x, x_ref)
            np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("initializer", ["he_normal", "glorot_uniform", "unit_normal", "tiny"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_redrawn_weights_are_a_fresh_builds(initializer, batch_norm):
    import numpy as np

    from experiments.engine.models import build_mlp

    def build(seed):
        return build_mlp(64, 10, width=8, initializer=initializer, batch_norm=batch_norm, seed=seed)

    redrawn = compiled_models.redrawn_weights(build(3), seed_shift=4)
    fresh = {v.path: v.numpy() for v in build(7).weights}
    assert redrawn.keys() == fresh.keys()
    for path, value in fresh.items():
        np.testing.assert_array_equal(np.asarray(redrawn[path]), value)


def test_a_builder_whose_seeds_do_not_follow_the_run_seed_is_reset_from_fresh_builds():
    import numpy as np

    from experiments.engine.models import build_mlp

    def build(seed):
        return build_mlp(16, 3, width=4, seed=seed * 7)  # not "run seed + layer offset"

    def compile_model(model):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")

    cache = compiled_models.CompiledModels()
    config = resolve({"width": 4, "optimizer": "keras_sgd"})  # what compile_model compiles
    for seed in (1, 2, 3):
        model, _ = cache.acquire({**config, "seed": seed}, lambda seed=seed: build(seed), compile_model, lambda: 0.01)
        for variable, expected in zip(model.weights, build(seed).weights):
            np.testing.assert_array_equal(variable.numpy(), expected.numpy())
        cache.release({**config, "seed": seed}, model)
    assert cache.hits == 2


def test_a_reused_model_keeps_its_traced_probes_and_slot_reader(tmp_path):
    from callbacks import GradientStatistics, OptimizerStateStatistics

    settings = {**TINY, "optimizer": "adam", "learning_rate": 0.003}
    made = []

    def capture(*args):
        made.append(training.make_callbacks(*args))
        return made[-1]

    saved = training.COMPILED_MODELS
    training.COMPILED_MODELS = compiled_models.CompiledModels()
    try:
        for seed in (1, 2):
            training.train_run(resolve({**settings, "seed": seed}), str(tmp_path / f"seed{seed}"), callbacks=capture)
    finally:
        training.COMPILED_MODELS = saved

    def find(callbacks, kind):
        return next(c for c in callbacks if isinstance(c, kind))

    first, second = made
    assert find(second, GradientStatistics)._probe._measure is find(first, GradientStatistics)._probe._measure
    assert find(second, OptimizerStateStatistics)._read_slots is find(first, OptimizerStateStatistics)._read_slots


def _draws(seed):
    """What a run draws from the seeded generators: Python, numpy, Keras's global SeedGenerator
    and the training pipeline's tf.data shuffle."""
    import random

    import keras
    import numpy as np

    dataset = training.get_dataset(resolve({"limit": 150, "seed": seed}))
    batch = next(iter(training.training_batches(dataset, 16, seed)))[1].numpy()
    return random.random(), np.random.random(), keras.ops.convert_to_numpy(keras.random.normal((3,))).tolist(), batch.tolist()


@pytest.mark.parametrize("model", ["mlp", "my_package.models:build"])
def test_seed_run_seeds_as_keras_set_random_seed(model):
    import keras

    config = resolve({"seed": 5})
    keras.utils.set_random_seed(5)
    expected = _draws(5)
    compiled_models.seed_run({**config, "model": model}, reusing_models=True)
    assert _draws(5) == expected


def test_seed_run_keeps_tensorflows_kernels_only_for_reused_stateless_models():
    """The kernel cache is what tf.random.set_seed clears: a stateful op's stream restarts only
    when it is cleared (the reason a user's builder, which may draw from such ops, gets it)."""
    import tensorflow as tf

    def restarts(config, reusing_models):
        compiled_models.seed_run(config, reusing_models)
        first = tf.random.uniform([4]).numpy()
        compiled_models.seed_run(config, reusing_models)
        return bool((tf.random.uniform([4]).numpy() == first).all())

    config = resolve({"seed": 5})
    assert not restarts(config, reusing_models=True)
    assert restarts(config, reusing_models=False)
    assert restarts({**config, "model": "my_package.models:build"}, reusing_models=True)
    assert restarts({**config, "distribute": "mirrored"}, reusing_models=True)
