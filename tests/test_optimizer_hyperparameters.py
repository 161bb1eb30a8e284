"""Our optimizers hold momentum, rho, the betas and epsilon in variables: a new value reaches an
already traced train step, and the step is bit for bit that of an optimizer built with the value."""

import keras
import numpy as np
import pytest

import optimizers
from optimizers import hyperparameters, introspection

pytestmark = pytest.mark.all_backends

# Per optimizer: the hyperparameters it holds, a value to build with and one to change to.
CASES = {
    "sgd": (optimizers.SGD, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, {"momentum": 0.5}),
    "sgd_ema": (optimizers.SGD, {"learning_rate": 0.05, "momentum": 0.9, "momentum_form": "ema"}, {"momentum": 0.3}),
    "adagrad": (optimizers.Adagrad, {"learning_rate": 0.05}, {"epsilon": 1e-3}),
    "rmsprop": (
        optimizers.RMSprop,
        {"learning_rate": 0.01, "momentum": 0.5, "centered": True},
        {"rho": 0.7, "momentum": 0.8, "epsilon": 1e-4},
    ),
    "adam": (
        optimizers.Adam, {"learning_rate": 0.01, "amsgrad": True}, {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-4}
    ),
}


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 5)).astype("float32"), rng.integers(0, 3, size=64)


def _model(optimizer):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _train(model):
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


@pytest.mark.parametrize("case", list(CASES))
def test_a_changed_hyperparameter_reaches_the_traced_step(case):
    cls, built_with, changed = CASES[case]
    model = _model(cls(**built_with))
    initial_weights = [keras.ops.convert_to_numpy(v) for v in model.weights]
    first = _train(model)
    train_function = model.train_function

    # Back to the start, as a reused model is reset (experiments/run_cache.py), with new values.
    for variable, value in zip(model.weights, initial_weights):
        variable.assign(value)
    for variable in introspection.state_variables(model.optimizer):
        variable.assign(np.zeros(variable.shape, variable.dtype))
    if case == "adagrad":  # its accumulators start at initial_accumulator_value
        for variable in introspection.slots(model.optimizer)[introspection.ACCUMULATOR]:
            variable.assign(np.full(variable.shape, 0.1, variable.dtype))
    model.optimizer.iterations.assign(0)
    for name, value in changed.items():
        setattr(model.optimizer, name, value)
    again = _train(model)
    assert model.train_function is train_function  # not traced again

    expected = _train(_model(cls(**{**built_with, **changed})))
    for actual, wanted in zip(again, expected):
        np.testing.assert_array_equal(actual, wanted)
    assert any(not np.array_equal(a, b) for a, b in zip(again, first))  # the change mattered


def test_each_term_is_rounded_once_from_float64():
    adam = optimizers.Adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    values = {v.name: float(keras.ops.convert_to_numpy(v)) for v in hyperparameters.variables(adam)}
    assert values == {
        "beta_1": float(np.float32(0.9)),
        "one_minus_beta_1": float(np.float32(1 - 0.9)),
        "beta_2": float(np.float32(0.999)),
        "one_minus_beta_2": float(np.float32(1 - 0.999)),
        "epsilon": float(np.float32(1e-7)),
    }
    # What rounding beta_1 first would give instead: a different float32.
    assert np.float32(1 - 0.9) != np.float32(1) - np.float32(0.9)
    rmsprop = optimizers.RMSprop(rho=0.95)
    rmsprop.rho = 0.8
    values = {v.name: float(keras.ops.convert_to_numpy(v)) for v in hyperparameters.variables(rmsprop)}
    assert values["one_minus_rho"] == float(np.float32(1 - 0.8)) and values["rho"] == float(np.float32(0.8))


def test_the_attribute_is_a_checked_python_float():
    sgd = optimizers.SGD(momentum=0.9)
    assert sgd.momentum == 0.9 and type(sgd.momentum) is float
    with pytest.raises(ValueError, match="momentum"):
        sgd.momentum = 1.5
    assert sgd.momentum == 0.9
    assert float(keras.ops.convert_to_numpy(hyperparameters.variables(sgd)[0])) == float(np.float32(0.9))
    with pytest.raises(ValueError, match="beta_2"):
        optimizers.Adam(beta_2=-0.1)
    assert optimizers.Adam.from_config(optimizers.Adam(beta_1=0.8).get_config()).beta_1 == 0.8


def test_which_optimizers_hold_what():
    assert hyperparameters.held(optimizers.SGD()) == ("momentum",)
    assert set(hyperparameters.held(optimizers.RMSprop())) == {"rho", "momentum", "epsilon"}
    assert set(hyperparameters.held(optimizers.Adam())) == {"beta_1", "beta_2", "epsilon"}
    assert hyperparameters.held(optimizers.Adagrad()) == ("epsilon",)
    assert hyperparameters.held(keras.optimizers.Adam()) == ()
    assert hyperparameters.variables(keras.optimizers.Adam()) == []


def test_a_schedule_takes_another_ones_rates_and_keeps_its_shape():
    from optimizers.schedules import ExponentialDecay, PiecewiseConstantDecay, Warmup

    target = Warmup(PiecewiseConstantDecay([4], [0.1, 0.01]), warmup_steps=2)
    source = Warmup(PiecewiseConstantDecay([4], [0.3, 0.03]), warmup_steps=2)
    hyperparameters.copy_held(source, target)
    assert target.schedule.values == [0.3, 0.03]
    for step in range(8):
        assert float(target(step)) == float(source(step))
    assert target.get_config() == source.get_config()
    with pytest.raises(ValueError, match="values"):
        target.schedule.values = [0.1, 0.01, 0.001]  # its boundaries fix the number of rates
    with pytest.raises(ValueError, match="one class"):
        hyperparameters.copy_held(ExponentialDecay(0.1, 10, 0.5), target)


def test_set_held_assigns_even_the_value_the_attribute_holds():
    optimizer = optimizers.SGD(0.1, momentum=0.99)
    optimizer.build([keras.Variable(np.zeros(3, "float32"))])
    (variable,) = hyperparameters.variables(optimizer)
    value = optimizer.momentum  # the same object, as a sweep's configurations share theirs
    variable.assign(0.5)  # behind the descriptor's back, as a compiled model's reset does
    optimizer.momentum = value  # TensorFlow's trackable objects skip a set of the same object
    if keras.backend.backend() == "tensorflow":
        assert float(keras.ops.convert_to_numpy(variable)) == 0.5
    hyperparameters.set_held(optimizer, "momentum", value)
    assert float(keras.ops.convert_to_numpy(variable)) == np.float32(0.99)
    with pytest.raises(ValueError, match="holds no hyperparameter 'nesterov'.*held: \\('momentum',\\)"):
        hyperparameters.set_held(optimizer, "nesterov", True)
