"""The optimizers' arguments: validation, config round trips, and Keras's base keyword arguments."""

import copy
import inspect
import math
import re

import keras
import numpy as np
import pytest
from optimizer_cases import (
    KERAS_CLASSES,
    OUR_CLASSES,
    all_cases,
    assert_matches_builtin,
    assert_variables_match_builtin,
    family,
    make_problem,
    run_keras,
)

from optimizers import SGD, Adagrad, Adam, RMSprop
from optimizers.base_arguments import BASE_ARGUMENTS, BASE_ARGUMENTS_DOC

pytestmark = pytest.mark.all_backends  # CI runs this file on TensorFlow, JAX and PyTorch


def unit_interval_message(name, value):
    return f"Argument `{name}` must be in [0, 1). Received: {name}={value!r}"


def learning_rate_cases():
    return [
        (-0.1, "Argument `learning_rate` must be >= 0. Received: learning_rate=-0.1"),
        (-1, "Argument `learning_rate` must be >= 0. Received: learning_rate=-1.0"),
        ("0.1", "Argument `learning_rate` must be a non-negative number, a "
                "`keras.optimizers.schedules.LearningRateSchedule` or a callable. "
                "Received: learning_rate='0.1'"),
        (None, "Received: learning_rate=None"),
        (True, "Received: learning_rate=True"),
        (math.nan, "Argument `learning_rate` must be a finite number. Received: learning_rate=nan"),
        (math.inf, "Argument `learning_rate` must be a finite number. Received: learning_rate=inf"),
    ]


def unit_interval_cases(name):
    """A [0, 1) argument: 1.0 and -0.1 out of range, plus non-numbers."""
    return [
        (1.0, unit_interval_message(name, 1.0)),
        (1, unit_interval_message(name, 1.0)),
        (-0.1, unit_interval_message(name, -0.1)),
        (1.5, unit_interval_message(name, 1.5)),
        ("0.9", f"Argument `{name}` must be a number. Received: {name}='0.9'"),
        (True, f"Argument `{name}` must be a number. Received: {name}=True"),
        (math.nan, f"Argument `{name}` must be a finite number. Received: {name}=nan"),
    ]


def epsilon_cases():
    # 0 is accepted, as by Keras (and torch.optim's `0 <= eps`): see test_zero_epsilon_*.
    return [
        (-1e-7, "Argument `epsilon` must be >= 0. Received: epsilon=-1e-07"),
        (-1, "Argument `epsilon` must be >= 0. Received: epsilon=-1.0"),
        ("1e-7", "Argument `epsilon` must be a number. Received: epsilon='1e-7'"),
        (math.nan, "Argument `epsilon` must be a finite number. Received: epsilon=nan"),
        (math.inf, "Argument `epsilon` must be a finite number. Received: epsilon=inf"),
    ]


def bool_cases(name):
    return [
        (value, f"Argument `{name}` must be True or False. Received: {name}={value!r}")
        for value in (1, 0, "yes", None)
    ]


INVALID_ARGUMENTS = {
    SGD: {
        "learning_rate": learning_rate_cases(),
        # Keras's check and message (issue 29): a Python float in [0, 1]; see
        # test_sgd_momentum_is_accepted_and_refused_where_keras_does.
        "momentum": [
            (value, "`momentum` must be a float between [0, 1].")
            for value in (1, 0, -0.1, 1.5, "0.9", True, math.nan, math.inf)
        ],
        "nesterov": bool_cases("nesterov"),
        "momentum_form": [
            (value, "Argument `momentum_form` must be one of 'keras', 'ema'. "
                    f"Received: momentum_form={value!r}")
            for value in ("torch", "EMA", None)
        ],
    },
    Adagrad: {
        "learning_rate": learning_rate_cases(),
        "initial_accumulator_value": [
            (-0.1, "Argument `initial_accumulator_value` must be >= 0. "
                   "Received: initial_accumulator_value=-0.1"),
            ("0.1", "Argument `initial_accumulator_value` must be a number. "
                    "Received: initial_accumulator_value='0.1'"),
        ],
        "epsilon": epsilon_cases(),
        "epsilon_inside_sqrt": bool_cases("epsilon_inside_sqrt"),
    },
    RMSprop: {
        "learning_rate": learning_rate_cases(),
        "rho": unit_interval_cases("rho"),
        "momentum": unit_interval_cases("momentum"),
        "epsilon": epsilon_cases(),
        "centered": bool_cases("centered"),
        "epsilon_inside_sqrt": bool_cases("epsilon_inside_sqrt"),
    },
    Adam: {
        "learning_rate": learning_rate_cases(),
        "beta_1": unit_interval_cases("beta_1"),
        "beta_2": unit_interval_cases("beta_2"),
        "epsilon": epsilon_cases(),
        "amsgrad": bool_cases("amsgrad"),
        "bias_correction": bool_cases("bias_correction"),
        "epsilon_inside_sqrt": bool_cases("epsilon_inside_sqrt"),
    },
}


def test_invalid_arguments_raise_naming_argument_range_and_value():
    for cls, arguments in INVALID_ARGUMENTS.items():
        for argument, cases in arguments.items():
            for value, message in cases:
                with pytest.raises(ValueError, match=re.escape(message)):
                    cls(**{argument: value})


def test_every_argument_has_invalid_cases():
    # Every constructor argument except `name` is covered above: an argument added later
    # without validation (and without a case here) fails this test.
    for cls, cases in INVALID_ARGUMENTS.items():
        arguments = set(inspect.signature(cls.__init__).parameters) - {"self", "name", "kwargs"}
        assert arguments == set(cases), cls.__name__


def test_boundary_values_are_accepted():
    # 0 is in [0, 1); integer learning rates are accepted (Keras rejects them). SGD's momentum
    # must be a float, as Keras's (issue 29): 0.0 there.
    for cls in OUR_CLASSES.values():
        arguments = set(inspect.signature(cls.__init__).parameters)
        unit = {name: 0 for name in ("momentum", "rho", "beta_1", "beta_2") if name in arguments}
        if cls is SGD:
            unit = {"momentum": 0.0}
        optimizer = cls(learning_rate=1, **unit)
        assert optimizer.get_config()["learning_rate"] == 1.0
        assert all(optimizer.get_config()[name] == 0.0 for name in unit)
        assert cls(learning_rate=0).get_config()["learning_rate"] == 0.0
        if "initial_accumulator_value" in arguments:
            assert cls(initial_accumulator_value=0).initial_accumulator_value == 0.0


def config_variants():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    variants = [OUR_CLASSES[family(case_id)](**kwargs) for case_id, kwargs, _ in all_cases()]
    variants += [cls(learning_rate=schedule) for cls in OUR_CLASSES.values()]
    variants += [
        SGD(0.1, momentum=0.9, weight_decay=0.01, clipnorm=1.0, use_ema=True, ema_momentum=0.9,
            ema_overwrite_frequency=10, loss_scale_factor=128.0, gradient_accumulation_steps=2,
            name="my_sgd"),
        Adam(global_clipnorm=1.0, clipvalue=None),
        RMSprop(clipvalue=0.5),
    ]
    return variants


def test_config_round_trip_for_every_variant():
    for optimizer in config_variants():
        config = optimizer.get_config()
        # Every constructor argument is in the config (the base class's through **kwargs).
        own = set(inspect.signature(type(optimizer).__init__).parameters) - {"self", "kwargs"}
        assert own <= set(config), (type(optimizer).__name__, own - set(config))
        rebuilt = type(optimizer).from_config(copy.deepcopy(config))
        assert type(rebuilt) is type(optimizer)
        assert rebuilt.get_config() == config


def test_config_carries_the_values_given():
    config = SGD(0.1, momentum=0.5, nesterov=True, momentum_form="ema").get_config()
    assert (config["momentum"], config["nesterov"], config["momentum_form"]) == (0.5, True, "ema")
    config = Adam(beta_1=0.5, beta_2=0.75, epsilon=0.1, amsgrad=True, bias_correction=False,
                  epsilon_inside_sqrt=True).get_config()
    assert [config[k] for k in ("beta_1", "beta_2", "epsilon", "amsgrad", "bias_correction",
                                "epsilon_inside_sqrt")] == [0.5, 0.75, 0.1, True, False, True]


def test_serialize_and_deserialize_return_our_classes():
    for optimizer in config_variants():
        serialized = keras.optimizers.serialize(optimizer)
        assert serialized["registered_name"] == f"optimizers>{type(optimizer).__name__}"
        restored = keras.optimizers.deserialize(copy.deepcopy(serialized))
        # Not Keras's built-in of the same (case-insensitive) name.
        assert type(restored) is type(optimizer)
        assert restored.get_config() == optimizer.get_config()
        assert type(keras.optimizers.get(copy.deepcopy(serialized))) is type(optimizer)


def test_weight_decay_is_applied_once_and_decoupled():
    # With a zero gradient every update rule here moves nothing, so one step is the decay alone:
    # w * (1 - learning_rate * weight_decay) = [1, -2] * (1 - 0.1 * 0.5) = [0.95, -1.9].
    # Applied twice it would be [0.9025, -1.805].
    for cls in OUR_CLASSES.values():
        variable = keras.Variable(np.array([1.0, -2.0], dtype="float32"))
        cls(learning_rate=0.1, weight_decay=0.5).apply(
            [np.zeros(2, dtype="float32")], [variable]
        )
        np.testing.assert_allclose(variable.numpy(), [0.95, -1.9], rtol=1e-6, err_msg=cls.__name__)


BASE_ARGUMENTS_TESTED = {
    "weight_decay": dict(weight_decay=0.05),
    "clipnorm": dict(clipnorm=0.5),
    "clipvalue": dict(clipvalue=0.3),
    "global_clipnorm": dict(global_clipnorm=0.5),
    "use_ema": dict(use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=7),
    "loss_scale_factor": dict(loss_scale_factor=4.0),
    "gradient_accumulation_steps": dict(gradient_accumulation_steps=3),
}
# One variant per optimizer, with every slot it can have, that Keras's built-in also defines.
BUILTIN_COMPATIBLE = {
    "sgd": dict(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adagrad": dict(learning_rate=0.1),
    "rmsprop": dict(learning_rate=0.01, momentum=0.5, centered=True),
    "adam": dict(learning_rate=0.05, amsgrad=True),
}


@pytest.mark.parametrize("argument", list(BASE_ARGUMENTS_TESTED))
def test_base_arguments_match_keras_builtin(argument):
    problem = make_problem(12, curvature=True, seed=3)
    base = BASE_ARGUMENTS_TESTED[argument]
    for name, kwargs in BUILTIN_COMPATIBLE.items():
        ours = OUR_CLASSES[name](**kwargs, **base)
        builtin = KERAS_CLASSES[name](**kwargs, **base)
        # Eager: for a dozen steps, tracing a graph would cost more than it saves.
        history, _ = run_keras(ours, problem, compiled=False)
        expected, _ = run_keras(builtin, problem, compiled=False)
        assert_matches_builtin(history, expected, label=name)
        # Slot, EMA and accumulator variables too, and the iteration count.
        assert_variables_match_builtin(ours, builtin, label=name)
    # Not vacuous (checked on the last optimizer, Adam): the argument changes the trajectory.
    without, _ = run_keras(OUR_CLASSES[name](**kwargs), problem, compiled=False)
    assert not np.array_equal(history[-1][1], without[-1][1]), f"{argument} had no effect"


def test_defaults_and_names_are_keras_drop_ins():
    # Same argument names and defaults as keras.optimizers.*, so each class is a drop-in.
    for name, cls in OUR_CLASSES.items():
        ours = inspect.signature(cls.__init__).parameters
        theirs = inspect.signature(KERAS_CLASSES[name].__init__).parameters
        for argument in set(ours) - {"self", "kwargs"}:
            if argument in theirs:
                assert ours[argument].default == theirs[argument].default, (name, argument)
        # The base arguments' defaults too (the automatic names differ by their counters).
        ours_config, keras_config = cls().get_config(), KERAS_CLASSES[name]().get_config()
        del ours_config["name"], keras_config["name"]
        assert {k: ours_config[k] for k in keras_config} == keras_config, name


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSprop, Adam])
def test_our_extra_arguments_are_keyword_only(cls):
    """Keras's base arguments follow its hyperparameters positionally (weight_decay, clipnorm,
    ...): a positional call beyond Keras's own hyperparameters must fail, not land on ours."""
    keras_positional = {SGD: 3, Adagrad: 3, RMSprop: 5, Adam: 5}[cls]
    with pytest.raises(TypeError, match="positional argument"):
        cls(*([0.01] + [False] * keras_positional))


@pytest.mark.parametrize("name", list(OUR_CLASSES))
def test_default_names_are_unique_as_keras_names_them(name):
    # Keras 3.15: `name=None` gives the snake-cased class name, then `_1`, `_2`, ... in one
    # session ("rm_sprop" for RMSprop); a fresh session (clear_session) counts from 0 again.
    keras.backend.clear_session()
    first, second = OUR_CLASSES[name](), OUR_CLASSES[name]()
    keras.backend.clear_session()
    builtin_first, builtin_second = KERAS_CLASSES[name](), KERAS_CLASSES[name]()
    assert (first.name, second.name) == (builtin_first.name, builtin_second.name)
    assert second.name == f"{first.name}_1"
    # The config keeps the name it got, and a rebuilt optimizer keeps it (no new counter).
    assert type(second).from_config(second.get_config()).name == second.name
    assert OUR_CLASSES[name](name="mine").name == "mine"


def test_default_names_round_trip_through_a_saved_model(tmp_path):
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=Adam(), loss="mse")
    assert model.optimizer.name == "adam"
    model.train_on_batch(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


ZERO_EPSILON = {
    "adagrad": dict(learning_rate=0.1, epsilon=0.0),
    "rmsprop": dict(learning_rate=0.01, epsilon=0.0, centered=True),
    "adam": dict(learning_rate=0.01, epsilon=0.0, amsgrad=True),
}


@pytest.mark.parametrize("name", list(ZERO_EPSILON))
def test_zero_epsilon_is_accepted_and_matches_keras_builtin(name):
    # Keras accepts epsilon=0 (torch.optim checks only 0 <= eps); the noisy quadratic's
    # gradients are never all zero, so no division by zero happens on it.
    problem = make_problem(12, curvature=True, seed=4)
    ours = OUR_CLASSES[name](**ZERO_EPSILON[name])
    assert ours.get_config()["epsilon"] == 0.0
    history, _ = run_keras(ours, problem, compiled=False)
    expected, _ = run_keras(KERAS_CLASSES[name](**ZERO_EPSILON[name]), problem, compiled=False)
    assert all(np.all(np.isfinite(w)) for step in history for w in step)
    assert_matches_builtin(history, expected, label=name)


def test_base_arguments_are_documented_once_and_shown_by_help():
    # The paragraph is written once (optimizers/base_arguments.py) and appended to each class.
    for cls in OUR_CLASSES.values():
        assert cls.__doc__.rstrip().endswith(BASE_ARGUMENTS_DOC.rstrip()), cls.__name__
        assert all(f"`{argument}`" in cls.__doc__ for argument in BASE_ARGUMENTS)
    # The list is Keras's: every base argument of keras.optimizers.SGD, and each one tested above.
    keras_sgd = set(inspect.signature(keras.optimizers.SGD.__init__).parameters)
    keras_base = keras_sgd - {"self", "learning_rate", "momentum", "nesterov", "name", "kwargs"}
    assert set(BASE_ARGUMENTS) == keras_base
    tested = {argument for kwargs in BASE_ARGUMENTS_TESTED.values() for argument in kwargs}
    assert tested == keras_base


# Issue 29: SGD's momentum is accepted and refused where keras.optimizers.SGD accepts and refuses
# it, with Keras's error type and message. Each value is tried on both.
SGD_MOMENTUM_BOUNDARIES = [0.0, 1.0, 0.5, np.float64(0.9), 0, 1, -0.1, -1e-300, 1.0 + 1e-15, 1.5, True, False, "0.9", None,
                           np.float32(0.5), math.inf, -math.inf]  # fmt: skip


def _outcome(make):
    try:
        make()
    except Exception as error:  # the type and message are what is compared
        return type(error), str(error)
    return None


@pytest.mark.parametrize("value", SGD_MOMENTUM_BOUNDARIES, ids=repr)
def test_sgd_momentum_is_accepted_and_refused_where_keras_does(value):
    theirs = _outcome(lambda: keras.optimizers.SGD(momentum=value))
    assert _outcome(lambda: SGD(momentum=value)) == theirs
    if theirs is None:  # accepted: the same number in the config
        assert SGD(momentum=value).get_config()["momentum"] == keras.optimizers.SGD(momentum=value).get_config()["momentum"]
    else:  # refused: the live setter refuses it too, and keeps the value it had
        optimizer = SGD(momentum=0.5)
        with pytest.raises(theirs[0], match=re.escape(theirs[1])):
            optimizer.momentum = value
        assert optimizer.momentum == 0.5


def test_sgd_momentum_nan_is_refused_where_keras_lets_it_through():
    # The one documented difference: Keras's `momentum < 0 or momentum > 1` is False for NaN.
    assert _outcome(lambda: keras.optimizers.SGD(momentum=math.nan)) is None
    with pytest.raises(ValueError, match=re.escape("`momentum` must be a float between [0, 1].")):
        SGD(momentum=math.nan)


def test_sgd_momentum_one_trains_as_kerass():
    problem = make_problem(seed=3, steps=20)
    ours, _ = run_keras(SGD(0.01, momentum=1.0, nesterov=True), problem)
    theirs, _ = run_keras(keras.optimizers.SGD(0.01, momentum=1.0, nesterov=True), problem)
    assert_matches_builtin(ours, theirs)
