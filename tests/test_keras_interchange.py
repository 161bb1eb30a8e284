"""Optimizer state moves both ways between Keras's built-ins and ours.

Our optimizers' variables (`optimizer.variables`, so `get_weights`, `set_weights` and a saved
`.keras` file) are exactly those of Keras's built-in of the same name, for every configuration:
the same count, names, shapes and order before and after `build`. The hyperparameters ours hold
in variables (optimizers/hyperparameters.py) live outside that list. Each test builds the
state with one side and reads or continues it with the other: Keras's built-ins are the
reference, never our own output.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from optimizer_cases import BUILTIN_RTOL

import optimizers

pytestmark = pytest.mark.all_backends

# Keras's built-in configurations: (class name, arguments), as a user would pass them to either.
CONFIGURATIONS = {
    "sgd": ("SGD", {"learning_rate": 0.05}),
    "sgd_momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop_momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    "rmsprop_centered": ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    "rmsprop_centered_momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    "adam": ("Adam", {"learning_rate": 0.01}),
    "adam_amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
}
# Our variants: the same slots as Keras's built-in with the same Keras arguments.
VARIANTS = {
    "sgd_ema": ("SGD", {"momentum": 0.9, "momentum_form": "ema"}),
    "adagrad_outside": ("Adagrad", {"epsilon_inside_sqrt": False}),
    "rmsprop_outside": ("RMSprop", {"momentum": 0.5, "epsilon_inside_sqrt": False}),
    "adam_no_correction": ("Adam", {"amsgrad": True, "bias_correction": False, "epsilon_inside_sqrt": True}),
}
VARIANT_ARGUMENTS = ("momentum_form", "epsilon_inside_sqrt", "bias_correction")


def _pair(name, arguments, learning_rate=None):
    """(ours, Keras's built-in), with the same Keras arguments."""
    if learning_rate is not None:
        arguments = {**arguments, "learning_rate": learning_rate}
    keras_arguments = {k: v for k, v in arguments.items() if k not in VARIANT_ARGUMENTS}
    return getattr(optimizers, name)(**arguments), getattr(keras.optimizers, name)(**keras_arguments)


def _names(optimizer):
    # A variable's name (`iteration`, `dense_kernel_momentum`, ...), not its path: the path
    # starts with the optimizer's automatic name, which counts instances (`adam`, `adam_1`).
    return [v.name for v in optimizer.variables]


def _schedule():
    return keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)


@pytest.mark.parametrize("case", [*CONFIGURATIONS, *VARIANTS])
@pytest.mark.parametrize("rate", ["number", "schedule"])
def test_variables_are_keras_count_names_shapes_and_order(case, rate):
    name, arguments = {**CONFIGURATIONS, **VARIANTS}[case]
    ours, builtin = _pair(name, arguments, _schedule() if rate == "schedule" else None)
    assert len(ours.variables) == len(builtin.variables)
    assert _names(ours) == _names(builtin)
    weights = [keras.Variable(np.zeros((4, 3), "float32"), name="kernel"), keras.Variable(np.zeros(3, "float32"), name="bias")]
    ours.build(weights)
    builtin.build(weights)
    assert len(ours.variables) == len(builtin.variables)
    assert _names(ours) == _names(builtin)
    assert [tuple(v.shape) for v in ours.variables] == [tuple(v.shape) for v in builtin.variables]
    assert [v.dtype for v in ours.variables] == [v.dtype for v in builtin.variables]
    for a, b in zip(ours.variables, builtin.variables):  # initial values too (Adagrad's 0.1)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 4)).astype("float32"), rng.normal(size=(24, 3)).astype("float32")


def _model(optimizer):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _trained(optimizer, steps=3):
    model = _model(optimizer)
    x, y = _data()
    model.fit(x[: 8 * steps], y[: 8 * steps], batch_size=8, shuffle=False, verbose=0)
    return model


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _assert_same_state(target, source):
    """Every optimizer variable of `target` holds `source`'s value; the step count too. (Slot
    names hold the model's name, `sequential_dense_kernel_momentum`: two models differ there.)"""
    assert [v.shape for v in target.optimizer.variables] == [v.shape for v in source.optimizer.variables]
    for a, b, name in zip(_values(target.optimizer.variables), _values(source.optimizer.variables), _names(source.optimizer)):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert int(keras.ops.convert_to_numpy(target.optimizer.iterations)) == 3


def _one_more_step_agrees(target, source):
    x, y = _data()
    for model in (target, source):
        model.train_on_batch(x[:8], y[:8])
    for a, b in zip(_values(target.trainable_variables), _values(source.trainable_variables)):
        np.testing.assert_allclose(a, b, rtol=BUILTIN_RTOL, atol=1e-7)
    for a, b, name in zip(_values(target.optimizer.variables), _values(source.optimizer.variables), _names(source.optimizer)):
        np.testing.assert_allclose(a, b, rtol=BUILTIN_RTOL, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("case", CONFIGURATIONS)
@pytest.mark.parametrize("direction", ["keras_to_ours", "ours_to_keras"])
def test_a_saved_keras_file_restores_the_other_sides_state(case, direction, tmp_path):
    name, arguments = CONFIGURATIONS[case]
    ours, builtin = _pair(name, arguments)
    source_optimizer, target_optimizer = (builtin, ours) if direction == "keras_to_ours" else (ours, builtin)
    source = _trained(source_optimizer)
    path = str(tmp_path / "model.keras")
    source.save(path)

    target = _model(target_optimizer)
    target.optimizer.build(target.trainable_variables)
    with _no_skipped_variables():
        target.load_weights(path)
    _assert_same_state(target, source)
    for a, b in zip(_values(target.trainable_variables), _values(source.trainable_variables)):
        np.testing.assert_array_equal(a, b)
    _one_more_step_agrees(target, source)


@pytest.mark.parametrize("case", CONFIGURATIONS)
def test_load_model_brings_back_our_optimizer_with_its_state(case, tmp_path):
    name, arguments = CONFIGURATIONS[case]
    ours, builtin = _pair(name, arguments)
    source = _trained(ours)
    path = str(tmp_path / "model.keras")
    source.save(path)
    with _no_skipped_variables():
        loaded = keras.models.load_model(path)
    assert type(loaded.optimizer) is type(ours)
    assert loaded.optimizer.get_config() == ours.get_config()
    _assert_same_state(loaded, source)
    # Continued by Keras's built-in from the same state: the reference for one more step.
    reference = _model(builtin)
    reference.optimizer.build(reference.trainable_variables)
    reference.set_weights(source.get_weights())
    reference.optimizer.set_weights(_values(source.optimizer.variables))
    _one_more_step_agrees(loaded, reference)


@pytest.mark.parametrize("case", CONFIGURATIONS)
@pytest.mark.parametrize("direction", ["keras_to_ours", "ours_to_keras"])
def test_set_weights_takes_the_other_sides_values(case, direction):
    # Keras 3's optimizers have `set_weights` and no `get_weights` (tf.keras's returned the
    # values of `variables`, in their order): the values of `variables` stand in for it.
    name, arguments = CONFIGURATIONS[case]
    ours, builtin = _pair(name, arguments)
    source_optimizer, target_optimizer = (builtin, ours) if direction == "keras_to_ours" else (ours, builtin)
    source = _trained(source_optimizer)
    target = _model(target_optimizer)
    target.optimizer.build(target.trainable_variables)
    weights = _values(source.optimizer.variables)
    assert len(weights) == len(target.optimizer.variables)
    target.optimizer.set_weights(weights)
    target.set_weights(source.get_weights())
    _assert_same_state(target, source)
    _one_more_step_agrees(target, source)


def test_held_hyperparameters_stay_out_of_the_state_and_in_the_config(tmp_path):
    ours = optimizers.Adam(0.01, beta_1=0.8, beta_2=0.95, epsilon=1e-4)
    source = _trained(ours)
    ids = {id(v) for v in source.optimizer.variables}
    held = optimizers.hyperparameters.variables(source.optimizer)
    assert held and not ids & {id(v) for v in held}
    path = str(tmp_path / "model.keras")
    source.save(path)
    loaded = keras.models.load_model(path)
    assert (loaded.optimizer.beta_1, loaded.optimizer.beta_2, loaded.optimizer.epsilon) == (0.8, 0.95, 1e-4)


class _no_skipped_variables:
    """Fails on Keras's "Skipping variable loading for optimizer ..." (a count mismatch)."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        skipped = [str(w.message) for w in self._caught if "Skipping variable loading" in str(w.message)]
        assert not skipped, skipped


# tf.distribute.MirroredStrategy over two logical CPU devices: TensorFlow fixes its logical
# devices when it first initializes them, so the run happens in a child process (this file
# run as a script), which writes its findings to a JSON file.
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_under_mirrored_strategy_the_state_is_kerass_and_a_change_reaches_the_traced_step(tmp_path):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, __file__, str(tmp_path)], env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "mirrored.json") as file:
        found = json.load(file)
    assert found["replicas"] == 2
    assert found["names"] == found["keras_names"]
    assert found["not_traced_again"]
    assert found["largest_difference_from_fresh"] == 0.0
    assert found["change_mattered"]


def _mirrored_child(directory):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
    x, y = _data()

    def compiled(make_optimizer):
        with strategy.scope():  # Keras's optimizers too must be made in the scope
            model = _model(make_optimizer())
            model.optimizer.build(model.trainable_variables)
        return model

    def train(model):
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return _values(model.trainable_variables)

    keras_names = _names(compiled(lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)).optimizer)
    keras.backend.clear_session()  # the same automatic model and layer names in slot names
    model = compiled(lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True))
    initial = _values(model.trainable_variables)
    first = train(model)
    train_function = model.train_function
    for variable, value in zip(model.trainable_variables, initial):
        variable.assign(value)
    for variable in model.optimizer.variables[2:]:  # the momentum buffers; then the step count
        variable.assign(np.zeros(variable.shape, "float32"))
    model.optimizer.iterations.assign(0)
    model.optimizer.momentum = 0.5
    again = train(model)
    expected = train(compiled(lambda: optimizers.SGD(0.05, momentum=0.5, nesterov=True)))
    found = {
        "replicas": len(model.trainable_variables[0].value.values),
        "names": _names(model.optimizer),
        "keras_names": keras_names,
        "not_traced_again": model.train_function is train_function,
        "largest_difference_from_fresh": max(float(np.max(np.abs(a - b))) for a, b in zip(again, expected)),
        "change_mattered": any(not np.array_equal(a, b) for a, b in zip(again, first)),
    }
    with open(os.path.join(directory, "mirrored.json"), "w") as file:
        json.dump(found, file)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    _mirrored_child(sys.argv[1])
