"""optimizers.introspection against float64 replays of the published equations, for this
project's optimizers and Keras's built-ins alike (full-batch gradients computed in numpy, so
each step's gradient is known exactly). Backend-independent."""

import keras
import numpy as np
import pytest
from reference_gradients import dense_layers, mse_gradients
from test_callbacks_optimizer_state import CASES, LR, STEPS

import optimizers
from optimizers import introspection
from optimizers.introspection import (
    ACCUMULATOR,
    AVERAGE_GRADIENT,
    FIRST_MOMENT,
    MAX_SECOND_MOMENT,
    MOMENTUM,
    SECOND_MOMENT,
)
from optimizers.schedules import ScaledSchedule, Warmup

pytestmark = pytest.mark.all_backends


class GradientRecorder(keras.callbacks.Callback):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.gradients = x, y, []

    def on_train_batch_begin(self, batch, logs=None):
        self.gradients.append(mse_gradients(dense_layers(self.model), self.x, self.y))


def trained(optimizer, steps=STEPS):
    """A Dense(2) regression after `steps` full-batch steps, and each step's gradients."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype("float32")
    y = (x @ rng.standard_normal((3, 2))).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, bias_initializer="ones")])
    model.compile(optimizer=optimizer, loss="mse")
    recorder = GradientRecorder(x, y)
    model.fit(x, y, batch_size=16, epochs=steps, shuffle=False, verbose=0, callbacks=[recorder])
    return model, recorder.gradients


def ema(gradients, index, decay, power=1):
    value = 0.0
    for step in gradients:
        value = decay * value + (1 - decay) * step[index] ** power
    return value


def replayed_slots(name, gradients, index):
    """`{role: float64 array}` for one variable, from the update rules' equations."""
    g = [step[index] for step in gradients]
    if name in ("sgd", "keras_sgd"):  # velocity = momentum * velocity - lr * gradient
        velocity = 0.0
        for gradient in g:
            velocity = 0.9 * velocity - LR * gradient
        return {MOMENTUM: velocity}
    if name in ("adagrad", "keras_adagrad"):
        return {ACCUMULATOR: 0.1 + sum(gradient**2 for gradient in g)}
    if name in ("rmsprop_momentum", "keras_rmsprop_momentum"):  # Keras's and our centered form
        velocity = average = buffer = 0.0
        for gradient in g:
            velocity = 0.9 * velocity + 0.1 * gradient**2
            average = 0.9 * average + 0.1 * gradient
            buffer = 0.5 * buffer + LR * gradient / np.sqrt(velocity - average**2 + 1e-7)
        return {SECOND_MOMENT: velocity, AVERAGE_GRADIENT: average, MOMENTUM: buffer}
    if name in ("adam_amsgrad", "keras_adam_amsgrad"):
        v = v_max = 0.0
        m = 0.0
        for gradient in g:
            m = 0.9 * m + 0.1 * gradient
            v = 0.999 * v + 0.001 * gradient**2
            v_max = np.maximum(v_max, v)
        return {FIRST_MOMENT: m, SECOND_MOMENT: v, MAX_SECOND_MOMENT: v_max}
    raise AssertionError(name)


SLOT_CASES = {
    "sgd": lambda: optimizers.SGD(LR, momentum=0.9),
    "keras_sgd": lambda: keras.optimizers.SGD(LR, momentum=0.9),
    "adagrad": lambda: optimizers.Adagrad(LR),
    "keras_adagrad": lambda: keras.optimizers.Adagrad(LR),
    "rmsprop_momentum": lambda: optimizers.RMSprop(LR, momentum=0.5, centered=True),
    "keras_rmsprop_momentum": lambda: keras.optimizers.RMSprop(LR, momentum=0.5, centered=True),
    "adam_amsgrad": lambda: optimizers.Adam(LR, amsgrad=True),
    "keras_adam_amsgrad": lambda: keras.optimizers.Adam(LR, amsgrad=True),
}


@pytest.mark.parametrize("name", sorted(SLOT_CASES))
def test_slots_by_role_hold_the_replayed_values(name):
    model, gradients = trained(SLOT_CASES[name]())
    slots = introspection.slots(model.optimizer)
    for index, variable in enumerate(model.trainable_variables):
        expected = replayed_slots(name, gradients, index)
        assert sorted(slots) == sorted(expected)
        for role, value in expected.items():
            slot = slots[role][index]
            assert slot.shape == variable.shape
            np.testing.assert_allclose(keras.ops.convert_to_numpy(slot), value, rtol=2e-5, atol=1e-7, err_msg=role)
    buffers = introspection.momentum_buffers(model.optimizer)
    assert buffers == slots.get(MOMENTUM, slots.get(FIRST_MOMENT, []))


@pytest.mark.parametrize(
    "make_optimizer, roles",
    [
        (lambda: optimizers.SGD(LR), []),
        (lambda: keras.optimizers.SGD(LR), []),
        (lambda: optimizers.RMSprop(LR), [SECOND_MOMENT]),
        (lambda: keras.optimizers.RMSprop(LR), [SECOND_MOMENT]),
        (lambda: optimizers.Adam(LR), [FIRST_MOMENT, SECOND_MOMENT]),
        (lambda: keras.optimizers.AdamW(LR), [FIRST_MOMENT, SECOND_MOMENT]),
        (lambda: keras.optimizers.Adamax(LR), []),  # another family: nothing known
    ],
)
def test_only_the_roles_the_settings_create(make_optimizer, roles):
    model, _ = trained(make_optimizer(), steps=1)
    assert sorted(introspection.slots(model.optimizer)) == sorted(roles)


@pytest.mark.parametrize("case", sorted(CASES))
def test_effective_learning_rates_equal_the_replayed_equations(case):
    make_optimizer, replay = CASES[case]
    model, gradients = trained(make_optimizer())
    rates = introspection.effective_learning_rates(model.optimizer, LR, STEPS)
    for rate, expected in zip(rates, replay(gradients), strict=True):
        np.testing.assert_allclose(rate, expected, rtol=1e-4)
        assert rate.dtype == np.float64


def test_sgd_and_other_families_have_no_per_parameter_rate():
    for optimizer, per_parameter in ((optimizers.SGD(LR), False), (keras.optimizers.Adamax(LR), None)):
        model, _ = trained(optimizer, steps=1)
        assert introspection.effective_learning_rates(model.optimizer, LR, 1) is None
        assert introspection.has_per_parameter_learning_rate(model.optimizer) is per_parameter
    assert introspection.has_per_parameter_learning_rate(optimizers.Adam()) is True


def test_base_optimizer_unwraps_loss_scaling():
    inner = optimizers.Adam(LR)
    wrapped = keras.optimizers.LossScaleOptimizer(inner)
    assert introspection.base_optimizer(wrapped) is inner
    assert introspection.base_optimizer(inner) is inner
    assert introspection.family(wrapped) == "adam"
    assert introspection.family(keras.optimizers.AdamW()) == "adam"
    assert introspection.family(keras.optimizers.Adamax()) is None


def test_applied_learning_rate_is_the_schedule_at_the_step_before():
    schedule = Warmup(0.1, warmup_steps=4)
    model, _ = trained(optimizers.SGD(schedule), steps=2)
    optimizer = model.optimizer
    assert introspection.completed_steps(optimizer) == 2
    for step in (1, 2, 3, 7):  # Keras evaluates schedule(iterations) before incrementing it
        expected = float(keras.ops.convert_to_numpy(schedule(step - 1)))
        assert introspection.applied_learning_rate(optimizer, step) == expected
    assert introspection.learning_rate_schedule(optimizer) is schedule
    assert introspection.learning_rate_multiplier(optimizer) is None
    # A multiplier changed at run time scales every step's rate from then on.
    optimizer.learning_rate = ScaledSchedule(schedule, multiplier=0.5)
    assert introspection.learning_rate_multiplier(optimizer).schedule is schedule
    expected = 0.5 * float(keras.ops.convert_to_numpy(schedule(2)))
    assert introspection.applied_learning_rate(optimizer, 3) == pytest.approx(expected, rel=1e-6)


def test_a_number_learning_rate_is_its_current_value_and_stays_out_of_the_state():
    model, _ = trained(keras.optimizers.Adam(LR), steps=1)
    optimizer = model.optimizer
    assert introspection.applied_learning_rate(optimizer, 1) == pytest.approx(LR)
    optimizer.learning_rate = 0.25  # a change at run time: the next step applies it
    assert introspection.current_learning_rate(optimizer) == 0.25
    assert introspection.applied_learning_rate(optimizer, 2) == 0.25
    assert introspection.learning_rate_schedule(optimizer) is None
    state = introspection.state_variables(optimizer)
    excluded = {id(optimizer.iterations), id(introspection.learning_rate_object(optimizer))}
    assert excluded & {id(v) for v in state} == set()
    assert len(state) == len(optimizer.variables) - 2
    slots = introspection.slots(optimizer)
    assert {id(v) for v in slots[FIRST_MOMENT] + slots[SECOND_MOMENT]} == {id(v) for v in state}


def test_bias_correction_factors_and_number_hyperparameters():
    adam = optimizers.Adam(beta_1=0.8, beta_2=0.99)
    assert introspection.bias_correction_factors(adam, 2) == (1 / (1 - 0.8**2), 1 / (1 - 0.99**2))
    assert introspection.bias_correction_factors(optimizers.Adam(bias_correction=False), 2) is None
    assert introspection.bias_correction_factors(keras.optimizers.RMSprop(), 2) is None
    names = ("momentum", "beta_1", "beta_2", "rho")
    assert introspection.number_hyperparameters(keras.optimizers.SGD(momentum=0.5), names) == {"momentum": 0.5}
    assert introspection.number_hyperparameters(adam, names) == {"beta_1": 0.8, "beta_2": 0.99}


def test_epsilon_placement_follows_each_family():
    assert introspection.epsilon_inside_sqrt(keras.optimizers.Adam()) is False
    assert introspection.epsilon_inside_sqrt(keras.optimizers.RMSprop()) is True
    assert introspection.epsilon_inside_sqrt(keras.optimizers.Adagrad()) is True
    assert introspection.epsilon_inside_sqrt(optimizers.Adam(epsilon_inside_sqrt=True)) is True
    assert introspection.epsilon_inside_sqrt(optimizers.RMSprop(epsilon_inside_sqrt=False)) is False
