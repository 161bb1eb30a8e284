"""The four optimizers' update rules: against float64 references, Keras's built-ins, hand-computed
steps and the identities the notes state.

Tolerance: agreement with the float64 reference is measured at every step as
max|w - w_ref| / max|w_ref| per tensor (error relative to the tensor's scale) and must stay
below RTOL = 1e-5, i.e. float32 precision after 100 steps of rounding (one float32 rounding is
6e-8; the measured errors are 3e-7 to 4e-6, see benchmarks/optimizer_accuracy.py). Adam with
beta_2 = 0.999 gets ADAM_RTOL = 5e-5: Keras computes `1 - beta_2 ** t` in float32, where the
cancellation against float32's rounding of 0.999 costs ~1e-5 in the step size (Keras's
built-in does exactly the same, bit for bit; see test_matches_keras_builtin).
"""

import keras
import numpy as np
import pytest
from optimizer_cases import (
    KERAS_CLASSES,
    OUR_CLASSES,
    REFERENCE_CLASSES,
    all_cases,
    assert_matches_builtin,
    assert_same_trajectory,
    assert_variables_match_builtin,
    family,
    make_problem,
    run_keras,
    run_reference,
    scaled_errors,
)
from reference import RMSpropReference, SGDReference

from optimizers import SGD, Adagrad, Adam, RMSprop

pytestmark = pytest.mark.all_backends  # CI runs this file on TensorFlow, JAX and PyTorch

STEPS = 100
RTOL = 1e-5
ADAM_RTOL = 5e-5


def tolerance(case_id, our_kwargs):
    if family(case_id) == "adam" and our_kwargs.get("beta_2", 0.999) > 0.99:
        return ADAM_RTOL
    return RTOL


def assert_slots_match(slots, reference_slots, rtol, label=""):
    assert set(slots) == set(reference_slots), label
    for key, expected in reference_slots.items():
        scale = max(float(np.max(np.abs(expected))), 1e-30)
        error = float(np.max(np.abs(slots[key] - expected)))
        assert error / scale < rtol, f"{label} slot {key}: error {error:.3g}, scale {scale:.3g}"


@pytest.fixture(scope="module")
def problems():
    """Random gradients (independent of the weights) and a noisy quadratic (dependent)."""
    return {
        "random": make_problem(STEPS, curvature=False, seed=1),
        "quadratic": make_problem(STEPS, curvature=True, seed=2),
    }


@pytest.mark.parametrize(
    "case_id, our_kwargs, reference_kwargs", [pytest.param(*c, id=c[0]) for c in all_cases()]
)
def test_matches_float64_reference(problems, case_id, our_kwargs, reference_kwargs):
    rtol = tolerance(case_id, our_kwargs)
    for kind, problem in problems.items():
        optimizer = OUR_CLASSES[family(case_id)](**our_kwargs)
        reference = REFERENCE_CLASSES[family(case_id)](**reference_kwargs)
        history, slots = run_keras(optimizer, problem)
        expected, expected_slots = run_reference(
            reference, problem, [our_kwargs["learning_rate"]] * STEPS
        )
        assert_same_trajectory(history, expected, rtol, kind)
        assert_slots_match(slots, expected_slots, rtol, kind)
        assert int(optimizer.iterations) == STEPS


# Cases whose definition coincides with Keras's built-in of the same name, with Keras's arguments.
KERAS_CASES = [
    ("sgd", dict(learning_rate=0.05)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    ("adagrad", dict(learning_rate=0.1)),
    ("adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=0.1)),
    ("rmsprop", dict(learning_rate=0.01)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.5, momentum=0.9, epsilon=0.1)),
    ("rmsprop", dict(learning_rate=0.01, centered=True)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True)),
    ("adam", dict(learning_rate=0.01)),
    ("adam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=0.1)),
    ("adam", dict(learning_rate=0.01, amsgrad=True)),
    ("adam", dict(learning_rate=0.01, beta_2=0.95, amsgrad=True)),
]


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam"])
def test_matches_keras_builtin(problems, name):
    problem = problems["quadratic"]
    for kwargs in [kwargs for case_name, kwargs in KERAS_CASES if case_name == name]:
        ours = OUR_CLASSES[name](**kwargs)
        builtin = KERAS_CLASSES[name](**kwargs)
        history, _ = run_keras(ours, problem)
        expected, _ = run_keras(builtin, problem)
        # Same operations in the same order: bit-identical, slot variables included.
        assert_matches_builtin(history, expected, label=str(kwargs))
        assert_variables_match_builtin(ours, builtin, label=str(kwargs))


def one_step(optimizer, weights, gradient):
    variable = keras.Variable(np.array(weights, dtype="float32"))
    optimizer.apply([np.array(gradient, dtype="float32")], [variable])
    return variable.numpy()


def two_steps(optimizer, weights, gradient):
    variable = keras.Variable(np.array(weights, dtype="float32"))
    for _ in range(2):
        optimizer.apply([np.array(gradient, dtype="float32")], [variable])
    return variable.numpy()


# Hand-computed steps: w0 = [1, 2], g = [0.5, -1], learning_rate = 0.1.
def test_sgd_hand_computed_steps():
    w0, g = [1.0, 2.0], [0.5, -1.0]
    # w - lr * g = [1 - 0.05, 2 + 0.1]
    np.testing.assert_allclose(one_step(SGD(0.1), w0, g), [0.95, 2.1], rtol=1e-7)
    # v1 = -lr * g = [-0.05, 0.1]; v2 = 0.9 * v1 - lr * g = [-0.095, 0.19]; w2 = w0 + v1 + v2
    np.testing.assert_allclose(two_steps(SGD(0.1, momentum=0.9), w0, g), [0.855, 2.29], rtol=1e-7)
    # Nesterov: w1 = w0 + 0.9 * v1 - lr * g = [1 - 0.045 - 0.05, 2 + 0.09 + 0.1]
    np.testing.assert_allclose(
        one_step(SGD(0.1, momentum=0.9, nesterov=True), w0, g), [0.905, 2.19], rtol=1e-7
    )
    # EMA: V1 = 0.1 * g = [0.05, -0.1], w1 = w0 - 0.1 * V1 = [0.995, 2.01];
    # V2 = 0.9 * V1 + 0.1 * g = [0.095, -0.19], w2 = w1 - 0.1 * V2 = [0.9855, 2.029]
    ema = SGD(0.1, momentum=0.9, momentum_form="ema")
    np.testing.assert_allclose(two_steps(ema, w0, g), [0.9855, 2.029], rtol=1e-7)
    # EMA Nesterov: w1 = w0 - 0.1 * (0.9 * V1 + 0.1 * g) = w0 - 0.1 * [0.095, -0.19]
    ema_nesterov = SGD(0.1, momentum=0.9, nesterov=True, momentum_form="ema")
    np.testing.assert_allclose(one_step(ema_nesterov, w0, g), [0.9905, 2.019], rtol=1e-7)


def test_adagrad_hand_computed_step():
    # The notes' example: g = [2, 4, 3], lr = 1, cache from zero, epsilon outside the root:
    # cache = [4, 16, 9], update = -g / (sqrt(cache) + 1e-7)
    #       = -[2 / 2.0000001, 4 / 4.0000001, 3 / 3.0000001]
    notes = Adagrad(1, initial_accumulator_value=0.0, epsilon=1e-7, epsilon_inside_sqrt=False)
    np.testing.assert_allclose(
        one_step(notes, [0.0, 0.0, 0.0], [2.0, 4.0, 3.0]),
        [-0.99999995, -0.999999975, -0.9999999667],
        rtol=1e-7,
    )
    # Epsilon inside (Keras) with epsilon = 9: g = [4, -4, 0], cache = [16, 16, 0],
    # update = -g / sqrt(cache + 9) = -[4/5, -4/5, 0] (outside it would be -[4/13, -4/13, 0]).
    inside = Adagrad(1, initial_accumulator_value=0.0, epsilon=9.0)
    np.testing.assert_allclose(
        one_step(inside, [0.0, 0.0, 0.0], [4.0, -4.0, 0.0]), [-0.8, 0.8, 0.0], rtol=1e-7
    )
    # Keras's initial accumulator: 0.75 + 0.5 ** 2 = 1, so the step is -lr * g / sqrt(1 + 1e-7).
    keras_default = Adagrad(0.1, initial_accumulator_value=0.75)
    np.testing.assert_allclose(one_step(keras_default, [1.0], [0.5]), [0.95], rtol=1e-7)


def test_rmsprop_hand_computed_step():
    # The notes' example: rho = 0.9, g = [2, 4, 3]: cache = 0.1 * g**2 = [0.4, 1.6, 0.9],
    # update = -0.01 * g / sqrt(0.1 * g**2) = -0.01 * sqrt(10) = -0.0316227766 for every element.
    np.testing.assert_allclose(
        one_step(RMSprop(0.01, rho=0.9), [0.0, 0.0, 0.0], [2.0, 4.0, 3.0]),
        [-0.0316227766] * 3,
        rtol=1e-6,  # epsilon = 1e-7 inside the root changes the 8th digit.
    )
    # Centered: average = 0.1 * g, variance = 0.1 * g**2 - 0.01 * g**2 = 0.09 * g**2,
    # update = -0.01 * g / (0.3 * |g|) = -0.0333...
    np.testing.assert_allclose(
        one_step(RMSprop(0.01, rho=0.9, centered=True), [0.0, 0.0], [2.0, -4.0]),
        [-0.01 / 0.3, 0.01 / 0.3],
        rtol=1e-6,
    )
    # Epsilon outside with epsilon = 1: cache = 0.1 * [10, 40] = [1, 4] -> -g / ([1, 2] + 1).
    outside = RMSprop(1, rho=0.9, epsilon=1.0, epsilon_inside_sqrt=False)
    np.testing.assert_allclose(
        one_step(outside, [0.0, 0.0], [10**0.5, 40**0.5]),
        [-(10**0.5) / 2, -(40**0.5) / 3],
        rtol=1e-6,
    )


def test_adam_hand_computed_step():
    # beta_1 = beta_2 = 0.75, g = [2, 6]: m = 0.25 * g = [0.5, 1.5], v = 0.25 * g**2 = [1, 9].
    g = [2.0, 6.0]
    # Keras's "epsilon hat" form, epsilon = 1: lr_1 = sqrt(1 - 0.75) / (1 - 0.75) = 2,
    # update = -2 * m / (sqrt(v) + 1) = -[1/2, 3/4].
    hat = Adam(1, beta_1=0.75, beta_2=0.75, epsilon=1.0)
    np.testing.assert_allclose(one_step(hat, [0.0, 0.0], g), [-0.5, -0.75], rtol=1e-6)
    # No bias correction: -m / (sqrt(v) + 1) = -[0.5/2, 1.5/4].
    raw = Adam(1, beta_1=0.75, beta_2=0.75, epsilon=1.0, bias_correction=False)
    np.testing.assert_allclose(one_step(raw, [0.0, 0.0], g), [-0.25, -0.375], rtol=1e-6)
    # The notes' form, epsilon = 45 inside the root: m_hat = g, v_hat = g**2,
    # update = -g / sqrt(g**2 + 45) = -[2/7, 6/9].
    notes = Adam(1, beta_1=0.75, beta_2=0.75, epsilon=45.0, epsilon_inside_sqrt=True)
    np.testing.assert_allclose(one_step(notes, [0.0, 0.0], g), [-2 / 7, -6 / 9], rtol=1e-6)


def test_integer_learning_rate_is_accepted():
    optimizer = SGD(learning_rate=1)
    assert optimizer.get_config()["learning_rate"] == 1.0
    np.testing.assert_allclose(one_step(optimizer, [1.0, 2.0], [0.25, -0.5]), [0.75, 2.5])


def test_zero_momentum_is_plain_sgd(problems):
    problem = problems["quadratic"]
    plain, _ = run_keras(keras.optimizers.SGD(0.05), problem)
    expected, _ = run_reference(SGDReference(), problem, [0.05] * STEPS)
    for kwargs in [
        dict(),
        dict(nesterov=True),
        dict(momentum_form="ema"),
        dict(nesterov=True, momentum_form="ema"),
    ]:
        history, slots = run_keras(SGD(0.05, momentum=0.0, **kwargs), problem)
        assert slots == {}, kwargs  # no velocity is stored
        assert_matches_builtin(history, plain, label=str(kwargs))  # Keras's plain SGD, bit for bit
        assert_same_trajectory(history, expected, RTOL, label=str(kwargs))


def test_ema_momentum_is_keras_momentum_with_scaled_learning_rate(problems):
    # V = beta * V + (1 - beta) * g; w -= lr * V  equals  v = beta * v - lr' * g; w += v
    # with lr' = lr * (1 - beta), at a constant learning rate (v = -lr * V).
    problem = problems["quadratic"]
    lr, beta = 0.2, 0.8
    for nesterov in (False, True):
        ema, _ = run_keras(SGD(lr, momentum=beta, nesterov=nesterov, momentum_form="ema"), problem)
        scaled, _ = run_keras(SGD(lr * (1 - beta), momentum=beta, nesterov=nesterov), problem)
        assert_same_trajectory(ema, scaled, RTOL, label=f"nesterov={nesterov}")
        # Not vacuous: at the unscaled rate the Keras form's steps are 1 / (1 - beta) = 5x larger.
        unscaled, _ = run_keras(SGD(lr, momentum=beta, nesterov=nesterov), problem)
        assert scaled_errors(ema, unscaled)[1] > 0.1


def test_adam_without_first_moment_or_correction_is_rmsprop(problems):
    problem = problems["quadratic"]
    for inside in (False, True):
        adam = Adam(
            0.01, beta_1=0.0, beta_2=0.9, epsilon=0.1, bias_correction=False,
            epsilon_inside_sqrt=inside,
        )
        rmsprop = RMSprop(0.01, rho=0.9, epsilon=0.1, epsilon_inside_sqrt=inside)
        adam_history, _ = run_keras(adam, problem)
        rmsprop_history, _ = run_keras(rmsprop, problem)
        # Equal up to rounding: Adam writes v += (1 - b) * (g**2 - v), RMSprop
        # v = b * v + (1 - b) * g**2.
        assert_same_trajectory(
            adam_history, rmsprop_history, RTOL, label=f"epsilon_inside_sqrt={inside}"
        )


def test_adam_without_first_moment_is_bias_corrected_rmsprop(problems):
    # The notes: the bias correction "is sometimes also done in RMSprop". With beta_1 = 0 and
    # epsilon inside the root, Adam is RMSprop whose cache is divided by 1 - rho ** t.
    problem = problems["quadratic"]
    adam = Adam(0.01, beta_1=0.0, beta_2=0.9, epsilon=0.1, epsilon_inside_sqrt=True)
    history, _ = run_keras(adam, problem)
    corrected = RMSpropReference(rho=0.9, epsilon=0.1, bias_correction=True)
    expected, _ = run_reference(corrected, problem, [0.01] * STEPS)
    assert_same_trajectory(history, expected, RTOL)
    # ...and it is not plain RMSprop: the first step differs by 1 / sqrt(1 - rho) ~ 3x.
    uncorrected, _ = run_reference(RMSpropReference(rho=0.9, epsilon=0.1), problem, [0.01] * STEPS)
    assert scaled_errors(history, uncorrected)[1] > 1e-3


SCHEDULE_CASES = [
    ("sgd", dict(momentum=0.9)),  # the learning rate inside the buffer
    ("sgd", dict(momentum=0.8, momentum_form="ema")),  # ... and outside it
    ("adagrad", dict()),
    ("rmsprop", dict(momentum=0.5, centered=True)),
    ("adam", dict(beta_2=0.99)),
]


def test_learning_rate_schedule_is_applied_each_step(problems):
    # Step t uses the schedule's value at iteration t - 1: 0.1 * 0.5 ** ((t - 1) / 10).
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    rates = [0.1 * 0.5 ** ((t - 1) / 10) for t in range(1, STEPS + 1)]
    problem = problems["quadratic"]
    for name, kwargs in SCHEDULE_CASES:
        history, _ = run_keras(OUR_CLASSES[name](learning_rate=schedule, **kwargs), problem)
        expected, _ = run_reference(REFERENCE_CLASSES[name](**kwargs), problem, rates)
        assert_same_trajectory(history, expected, RTOL, label=f"{name} {kwargs}")
        # Not vacuous: the first rate held constant gives a clearly different trajectory.
        constant, _ = run_reference(REFERENCE_CLASSES[name](**kwargs), problem, [0.1] * STEPS)
        assert scaled_errors(history, constant)[1] > 1e-2, f"{name} {kwargs}"


def test_learning_rate_schedule_matches_keras_builtin(problems):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    problem = problems["quadratic"]
    for name, kwargs in [("sgd", dict(momentum=0.9)), ("adam", dict(amsgrad=True))]:
        history, _ = run_keras(OUR_CLASSES[name](learning_rate=schedule, **kwargs), problem)
        expected, _ = run_keras(KERAS_CLASSES[name](learning_rate=schedule, **kwargs), problem)
        assert_matches_builtin(history, expected, label=name)


SPARSE_VARIANTS = [
    lambda: SGD(0.1),
    lambda: SGD(0.1, momentum=0.9, nesterov=True),
    lambda: SGD(0.1, momentum=0.9, momentum_form="ema"),
    lambda: Adagrad(0.1),
    lambda: Adagrad(0.1, initial_accumulator_value=0.0, epsilon_inside_sqrt=False),
    lambda: RMSprop(0.01),
    lambda: RMSprop(0.01, momentum=0.5, centered=True, epsilon_inside_sqrt=False),
    lambda: Adam(0.01),
    lambda: Adam(0.01, amsgrad=True, epsilon_inside_sqrt=True, bias_correction=False),
]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.IndexedSlices")
def test_sparse_gradient_with_repeated_rows_equals_its_dense_sum():
    # An Embedding's gradient is a tf.IndexedSlices with one slice per lookup: row 0 looked up
    # twice in a batch appears twice. The update rules are written for the gradient, the
    # sum of the slices; squaring each slice separately would give a**2 + b**2, not (a + b)**2.
    import tensorflow as tf

    rng = np.random.default_rng(0)
    slices = [rng.normal(size=(4, 3)).astype("float32") for _ in range(3)]
    indices = np.array([0, 2, 0, 4])
    for make_optimizer in SPARSE_VARIANTS:
        sparse_variable = keras.Variable(np.ones((5, 3), dtype="float32"))
        dense_variable = keras.Variable(np.ones((5, 3), dtype="float32"))
        sparse_optimizer, dense_optimizer = make_optimizer(), make_optimizer()
        for values in slices:
            sparse = tf.IndexedSlices(tf.constant(values), tf.constant(indices), (5, 3))
            dense = np.zeros((5, 3), dtype="float32")
            np.add.at(dense, indices, values)
            sparse_optimizer.apply([sparse], [sparse_variable])
            dense_optimizer.apply([dense], [dense_variable])
        np.testing.assert_allclose(
            sparse_variable.numpy(), dense_variable.numpy(), rtol=1e-6, atol=1e-7,
            err_msg=str(sparse_optimizer.get_config()),
        )
