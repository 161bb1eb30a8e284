"""Learning-rate schedules against closed forms written from their formulas, and Keras's own."""

import json
import math

import keras
import numpy as np
import pytest
from one_weight_model import KernelRecorder, one_weight_model

from optimizers import SGD, Adam, hyperparameters
from optimizers.schedules import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    PerEpoch,
    PiecewiseConstantDecay,
    PolynomialDecay,
    ScaledSchedule,
    SequentialSchedule,
    Warmup,
)

pytestmark = pytest.mark.all_backends  # CI runs this file on TensorFlow, JAX and PyTorch

STEPS = np.array([0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 15, 20, 29, 99, 100, 101, 250, 1000, 12345])


def values_at(schedule, steps=STEPS):
    return np.array([float(schedule(int(step))) for step in steps])


# Float64 references, one line each, written from the published formulas.
def inverse_time(lr0, decay_steps, rate, step, staircase=False):
    periods = np.floor(step / decay_steps) if staircase else step / decay_steps
    return lr0 / (1.0 + rate * periods)


def exponential(lr0, decay_steps, rate, step, staircase=False):
    periods = np.floor(step / decay_steps) if staircase else step / decay_steps
    return lr0 * rate**periods


def inverse_sqrt(lr0, decay_steps, rate, step, staircase=False):
    periods = np.floor(step / decay_steps) if staircase else step / decay_steps
    return lr0 / np.sqrt(1.0 + rate * periods)


def cosine(lr0, decay_steps, alpha, step):
    progress = np.minimum(step, decay_steps) / decay_steps
    return lr0 * (alpha + (1 - alpha) * 0.5 * (1 + np.cos(np.pi * progress)))


def piecewise(boundaries, values, step):
    return np.select([step <= b for b in boundaries], values[:-1], default=values[-1])


def linear_warmup(start, target, warmup_steps, step):
    return start + (target - start) * step / warmup_steps


def polynomial(lr0, decay_steps, end, power, cycle, step):
    if cycle:  # the next multiple of decay_steps (1 at step 0)
        decay_steps = decay_steps * np.maximum(np.ceil(step / decay_steps), 1)
    else:
        step = np.minimum(step, decay_steps)
    return (lr0 - end) * (1 - step / decay_steps) ** power + end


def sgdr(lr0, first_decay_steps, t_mul, m_mul, alpha, step):
    """Loshchilov & Hutter's SGDR as Keras parametrizes it: period i is first_decay_steps *
    t_mul**i steps long, its peak m_mul**i; the period found by summing lengths, not by a log."""
    step = np.asarray(step, dtype=np.float64)
    i, start, length = np.zeros_like(step), np.zeros_like(step), np.full_like(step, float(first_decay_steps))
    later = step >= start + length
    while later.any():
        i, start, length = np.where(later, i + 1, i), np.where(later, start + length, start), np.where(later, length * t_mul, length)
        later = step >= start + length
    fraction = (step - start) / length
    return lr0 * ((1 - alpha) * m_mul**i * 0.5 * (1 + np.cos(np.pi * fraction)) + alpha)


# Each schedule beside its reference, used by the round-trip and `fit` tests below.
CASES = {
    "inverse_time": (
        lambda: InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5),
        lambda s: inverse_time(0.1, 4, 0.5, s),
    ),
    "inverse_time_staircase": (
        lambda: InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True),
        lambda s: inverse_time(0.1, 4, 0.5, s, staircase=True),
    ),
    "exponential": (
        lambda: ExponentialDecay(0.1, decay_steps=3, decay_rate=0.8),
        lambda s: exponential(0.1, 3, 0.8, s),
    ),
    "exponential_staircase": (
        lambda: ExponentialDecay(0.1, decay_steps=3, decay_rate=0.8, staircase=True),
        lambda s: exponential(0.1, 3, 0.8, s, staircase=True),
    ),
    "inverse_sqrt": (
        lambda: InverseSqrtDecay(0.1, decay_steps=2, decay_rate=0.5),
        lambda s: inverse_sqrt(0.1, 2, 0.5, s),
    ),
    "piecewise": (
        lambda: PiecewiseConstantDecay([3, 10, 20], [0.1, 0.05, 0.02, 0.01]),
        lambda s: piecewise([3, 10, 20], [0.1, 0.05, 0.02, 0.01], s),
    ),
    "cosine": (
        lambda: CosineDecay(0.1, decay_steps=20, alpha=0.1),
        lambda s: cosine(0.1, 20, 0.1, s),
    ),
    "cosine_keras_warmup": (
        lambda: CosineDecay(0.01, decay_steps=20, alpha=0.1, warmup_target=0.1, warmup_steps=5),
        lambda s: np.where(
            s < 5, linear_warmup(0.01, 0.1, 5, s), cosine(0.1, 20, 0.1, np.maximum(s - 5, 0))
        ),
    ),
    "warmup_cosine": (
        lambda: Warmup(CosineDecay(0.1, 20), warmup_steps=5, initial_learning_rate=0.01),
        lambda s: np.where(
            s < 5, linear_warmup(0.01, 0.1, 5, s), cosine(0.1, 20, 0.0, np.maximum(s - 5, 0))
        ),
    ),
    "sequential": (
        lambda: SequentialSchedule(
            [Warmup(0.1, warmup_steps=5), InverseTimeDecay(0.1, 2, 1.0), 0.005],
            boundaries=[5, 15],
        ),
        lambda s: np.select(
            [s < 5, s < 15],
            [linear_warmup(0.0, 0.1, 5, s), inverse_time(0.1, 2, 1.0, np.maximum(s - 5, 0))],
            default=0.005,
        ),
    ),
    "polynomial": (
        lambda: PolynomialDecay(0.1, decay_steps=20, end_learning_rate=0.01, power=2.0),
        lambda s: polynomial(0.1, 20, 0.01, 2.0, False, s),
    ),
    "polynomial_cycle": (
        lambda: PolynomialDecay(0.1, decay_steps=7, power=2.0, cycle=True),
        lambda s: polynomial(0.1, 7, 0.0001, 2.0, True, s),
    ),
    "cosine_restarts": (
        lambda: CosineDecayRestarts(0.1, first_decay_steps=5, m_mul=0.8, alpha=0.1),
        lambda s: sgdr(0.1, 5, 2.0, 0.8, 0.1, s),
    ),
    "per_epoch": (
        lambda: PerEpoch(ExponentialDecay(0.1, decay_steps=1, decay_rate=0.97), steps_per_epoch=4),
        lambda s: 0.1 * 0.97 ** (s // 4),
    ),
    "scaled": (
        lambda: ScaledSchedule(CosineDecay(0.1, decay_steps=20), multiplier=0.5),
        lambda s: 0.5 * cosine(0.1, 20, 0.0, s),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_schedule_matches_closed_form(case):
    make_schedule, reference = CASES[case]
    np.testing.assert_allclose(values_at(make_schedule()), reference(STEPS), rtol=1e-5, atol=1e-9)


def test_notes_inverse_time_example():
    # The notes: lr0 = 1.0, decay 0.1, step 1 gives 0.9090909090909091.
    schedule = InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.1)
    assert float(schedule(1)) == pytest.approx(0.9090909090909091, rel=1e-7)
    assert float(schedule(0)) == 1.0


def test_notes_per_epoch_exponential_decay_two_ways():
    # The notes' 0.97 ** epoch_nb * lr0, with 5 batches per epoch.
    per_epoch = PerEpoch(ExponentialDecay(0.2, decay_steps=1, decay_rate=0.97), steps_per_epoch=5)
    in_steps = ExponentialDecay(0.2, decay_steps=5, decay_rate=0.97, staircase=True)
    steps = STEPS[STEPS <= 1000]  # Beyond, float32 powers lose digits: 0.97 ** 2469 ~ 1e-33.
    expected = [0.2 * 0.97 ** (step // 5) for step in steps]
    np.testing.assert_allclose(values_at(per_epoch, steps), expected, rtol=1e-5)
    np.testing.assert_allclose(values_at(in_steps, steps), expected, rtol=1e-5)


def test_staircase_holds_within_a_period_and_drops_at_its_end():
    schedule = InverseTimeDecay(1.0, decay_steps=10, decay_rate=1.0, staircase=True)
    assert values_at(schedule, [0, 9, 10, 19, 20]).tolist() == pytest.approx(
        [1.0, 1.0, 0.5, 0.5, 1 / 3]
    )


def test_inverse_sqrt_starts_at_initial_rate_and_approaches_the_notes_form():
    schedule = InverseSqrtDecay(0.3, decay_steps=10, decay_rate=4.0)
    assert float(schedule(0)) == pytest.approx(0.3)
    # For large epochs: lr0 * k / sqrt(epoch) with k = 1 / sqrt(decay_rate).
    epoch = 100_000
    k = 1 / math.sqrt(4.0)
    assert float(schedule(epoch * 10)) == pytest.approx(0.3 * k / math.sqrt(epoch), rel=1e-4)


def test_piecewise_switches_after_each_boundary_as_keras():
    schedule = PiecewiseConstantDecay([3, 10], [1.0, 0.5, 0.1])
    assert values_at(schedule, [0, 3, 4, 10, 11, 500]).tolist() == pytest.approx(
        [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    )


def test_cosine_stays_at_alpha_after_decay_steps():
    schedule = CosineDecay(2.0, decay_steps=10, alpha=0.25)
    assert values_at(schedule, [0, 5, 10, 11, 1000]).tolist() == pytest.approx(
        [2.0, 1.25, 0.5, 0.5, 0.5]
    )


@pytest.mark.parametrize("shift_steps", [True, False])
def test_warmup_sees_shifted_or_raw_steps(shift_steps):
    inner = InverseTimeDecay(0.1, decay_steps=1, decay_rate=1.0)
    schedule = Warmup(inner, warmup_steps=4, initial_learning_rate=0.02, shift_steps=shift_steps)
    target = 0.1 if shift_steps else 0.1 / 5  # inner(0), or inner(4)
    inner_step = (lambda s: s - 4) if shift_steps else (lambda s: s)
    expected = [
        0.02 + (target - 0.02) * s / 4 if s < 4 else 0.1 / (1 + inner_step(s)) for s in STEPS
    ]
    np.testing.assert_allclose(values_at(schedule), expected, rtol=1e-5)
    # Continuous at the hand-over: the ramp ends where the schedule starts.
    assert float(schedule(4)) == pytest.approx(target)


def test_warmup_to_a_constant():
    schedule = Warmup(0.4, warmup_steps=8)
    assert values_at(schedule, [0, 2, 4, 8, 9, 10_000]).tolist() == pytest.approx(
        [0.0, 0.1, 0.2, 0.4, 0.4, 0.4]
    )


def test_sequential_schedule_starts_each_phase_at_its_own_step_zero():
    schedule = SequentialSchedule(
        [ExponentialDecay(1.0, 1, 0.5), ExponentialDecay(0.1, 1, 0.5), 0.3], boundaries=[3, 5]
    )
    assert values_at(schedule, range(8)).tolist() == pytest.approx(
        [1.0, 0.5, 0.25, 0.1, 0.05, 0.3, 0.3, 0.3]
    )


def test_single_schedule_sequence_is_that_schedule():
    inner = CosineDecay(0.1, 20)
    np.testing.assert_allclose(
        values_at(SequentialSchedule([inner], boundaries=[])), values_at(inner), rtol=1e-6
    )


KERAS_PAIRS = {
    "inverse_time": (
        lambda: InverseTimeDecay(0.1, 7, 0.5),
        lambda: keras.optimizers.schedules.InverseTimeDecay(0.1, 7, 0.5),
    ),
    "inverse_time_staircase": (
        lambda: InverseTimeDecay(0.1, 7, 0.5, staircase=True),
        lambda: keras.optimizers.schedules.InverseTimeDecay(0.1, 7, 0.5, staircase=True),
    ),
    "exponential": (
        lambda: ExponentialDecay(0.1, 7, 0.9),
        lambda: keras.optimizers.schedules.ExponentialDecay(0.1, 7, 0.9),
    ),
    "exponential_staircase": (
        lambda: ExponentialDecay(0.1, 7, 0.9, staircase=True),
        lambda: keras.optimizers.schedules.ExponentialDecay(0.1, 7, 0.9, staircase=True),
    ),
    "piecewise": (
        lambda: PiecewiseConstantDecay([3, 10, 100], [1.0, 0.5, 0.1, 0.01]),
        lambda: keras.optimizers.schedules.PiecewiseConstantDecay(
            [3, 10, 100], [1.0, 0.5, 0.1, 0.01]
        ),
    ),
    "cosine": (
        lambda: CosineDecay(0.1, 50, alpha=0.2),
        lambda: keras.optimizers.schedules.CosineDecay(0.1, 50, alpha=0.2),
    ),
    "polynomial": (
        lambda: PolynomialDecay(0.1, 50),
        lambda: keras.optimizers.schedules.PolynomialDecay(0.1, 50),
    ),
    "polynomial_cycle": (
        lambda: PolynomialDecay(0.1, 7, end_learning_rate=0.001, power=3.0, cycle=True),
        lambda: keras.optimizers.schedules.PolynomialDecay(0.1, 7, end_learning_rate=0.001, power=3.0, cycle=True),
    ),
    "cosine_restarts": (
        lambda: CosineDecayRestarts(0.1, 10),
        lambda: keras.optimizers.schedules.CosineDecayRestarts(0.1, 10),
    ),
    "cosine_restarts_all_arguments": (
        lambda: CosineDecayRestarts(0.1, 7, t_mul=1.5, m_mul=0.9, alpha=0.05),
        lambda: keras.optimizers.schedules.CosineDecayRestarts(0.1, 7, t_mul=1.5, m_mul=0.9, alpha=0.05),
    ),
    "cosine_with_warmup": (
        lambda: Warmup(CosineDecay(0.1, 50, 0.1), warmup_steps=20, initial_learning_rate=0.01),
        lambda: keras.optimizers.schedules.CosineDecay(
            0.01, 50, alpha=0.1, warmup_target=0.1, warmup_steps=20
        ),
    ),
}


@pytest.mark.parametrize("case", KERAS_PAIRS)
def test_matches_keras_builtin(case):
    ours, theirs = (make() for make in KERAS_PAIRS[case])
    np.testing.assert_allclose(values_at(ours), values_at(theirs), rtol=1e-6, atol=1e-9)


# Keras's two schedules added for issue 29, every step of a long run: (our arguments, the float64
# reference). Both compute in float32, as Keras's: `step / first_decay_steps` rounds by up to
# 2**-24 of itself, so the cosine moves by up to pi/2 * that fraction's ulp: at 2,000 steps of a
# 10-step first period, 2e-7 of the rate (atol below: 1e-6 of a 0.1 rate).
LONG_RUN = np.arange(2001)
KERAS_SCHEDULE_RUNS = {
    "polynomial_linear": ((0.1, 1500), lambda s: polynomial(0.1, 1500, 0.0001, 1.0, False, s)),
    "polynomial_power_end": ((0.1, 700, 0.005, 2.5), lambda s: polynomial(0.1, 700, 0.005, 2.5, False, s)),
    "polynomial_cycle": ((0.1, 300, 0.01, 0.5, True), lambda s: polynomial(0.1, 300, 0.01, 0.5, True, s)),
    "polynomial_increase": ((0.01, 100, 0.1, 1.0, True), lambda s: polynomial(0.01, 100, 0.1, 1.0, True, s)),
    "restarts_default": ((0.1, 10), lambda s: sgdr(0.1, 10, 2.0, 1.0, 0.0, s)),
    "restarts_t_mul_1": ((0.1, 30, 1.0, 0.9, 0.1), lambda s: sgdr(0.1, 30, 1.0, 0.9, 0.1, s)),
    "restarts_t_mul_1_5": ((0.1, 7, 1.5, 0.8, 0.05), lambda s: sgdr(0.1, 7, 1.5, 0.8, 0.05, s)),
    "restarts_t_mul_3": ((0.1, 3, 3.0, 1.0, 0.2), lambda s: sgdr(0.1, 3, 3.0, 1.0, 0.2, s)),
}


def _values_on(schedule, steps):
    return np.asarray(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(steps, "int32"))), np.float64)


@pytest.mark.parametrize("case", KERAS_SCHEDULE_RUNS)
def test_polynomial_and_restarts_equal_reference_and_keras_at_every_step(case):
    arguments, reference = KERAS_SCHEDULE_RUNS[case]
    ours_class, keras_class = (
        (PolynomialDecay, keras.optimizers.schedules.PolynomialDecay)
        if case.startswith("polynomial")
        else (CosineDecayRestarts, keras.optimizers.schedules.CosineDecayRestarts)
    )
    ours = _values_on(ours_class(*arguments), LONG_RUN)
    np.testing.assert_allclose(ours, reference(LONG_RUN.astype(np.float64)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours, _values_on(keras_class(*arguments), LONG_RUN), rtol=1e-6, atol=1e-8)


def test_restarts_start_each_period_at_its_peak():
    schedule = CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5, alpha=0.2)
    for i, start in enumerate([0, 10, 30, 70, 150, 310, 630, 1270]):
        assert float(schedule(start)) == pytest.approx(0.1 * (0.5**i * 0.8 + 0.2), rel=1e-6)
        assert float(schedule(start - 1)) < float(schedule(start)) or start == 0


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (PolynomialDecay(0.1, 20, 0.01, 2.0, True, "poly"),
         keras.optimizers.schedules.PolynomialDecay(0.1, 20, 0.01, 2.0, True, "poly")),
        (CosineDecayRestarts(0.1, 20, 1.5, 0.9, 0.1, "sgdr"),
         keras.optimizers.schedules.CosineDecayRestarts(0.1, 20, 1.5, 0.9, 0.1, "sgdr")),
    ],
    ids=["polynomial", "restarts"],
)
def test_polynomial_and_restarts_configs_are_kerass(ours, theirs):
    # The same keys and values as Keras's (Keras keeps the numbers as given; ours as floats).
    assert ours.get_config() == theirs.get_config()
    assert type(ours).__init__.__defaults__ == type(theirs).__init__.__defaults__
    # Each side's config builds the other, with the same values at every step.
    for config in (ours.get_config(), theirs.get_config()):
        for cls in (type(ours), type(theirs)):
            np.testing.assert_array_equal(values_at(cls.from_config(config)), values_at(ours))


@pytest.mark.parametrize(
    "schedule, changed",
    [
        (PolynomialDecay(0.1, 20, 0.01), {"initial_learning_rate": 0.3, "end_learning_rate": 0.02}),
        (CosineDecayRestarts(0.1, 5), {"initial_learning_rate": 0.3}),
    ],
    ids=["polynomial", "restarts"],
)
def test_polynomial_and_restarts_hold_their_rates_in_variables(schedule, changed):
    assert set(hyperparameters.held(schedule)) == set(changed)
    source = type(schedule).from_config({**schedule.get_config(), **changed})
    hyperparameters.copy_held(source, schedule)
    assert schedule.get_config() == source.get_config()
    np.testing.assert_array_equal(values_at(schedule), values_at(source))


# Keras's built-in warm-up: the arguments a user of keras.optimizers.schedules.CosineDecay
# passes, boundaries included (no warm-up steps, warm-up to a lower rate, alpha at the end).
KERAS_COSINE_WARMUPS = [
    dict(initial_learning_rate=0.01, decay_steps=50, alpha=0.1, warmup_target=0.1, warmup_steps=20),
    dict(initial_learning_rate=0.0, decay_steps=7, warmup_target=0.3, warmup_steps=3),
    dict(initial_learning_rate=0.2, decay_steps=10, warmup_target=0.05, warmup_steps=1),
    dict(initial_learning_rate=0.2, decay_steps=10, alpha=0.5, warmup_target=0.05, warmup_steps=0),
    dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.2, warmup_steps=5),  # no target
    dict(initial_learning_rate=0.1, decay_steps=3.5, warmup_target=0.4, warmup_steps=4),
]


@pytest.mark.parametrize("arguments", KERAS_COSINE_WARMUPS, ids=str)
def test_cosine_warmup_equals_keras_builtin_at_every_step(arguments):
    steps = np.concatenate([np.arange(80), [100, 1000, 12345]])
    ours = CosineDecay(**arguments)
    theirs = keras.optimizers.schedules.CosineDecay(**arguments)
    # Same formula, same float32 operations: equal on TensorFlow, not just close. JAX's
    # float32 cos/where round differently by up to an ulp (measured 1.1e-7 relative).
    rtol = 0.0 if keras.backend.backend() == "tensorflow" else 3e-7
    np.testing.assert_allclose(values_at(ours, steps), values_at(theirs, steps), rtol=rtol, atol=0)
    assert ours.get_config() == theirs.get_config()


def test_cosine_warmup_argument_equals_the_warmup_wrapper():
    built_in = CosineDecay(0.01, 30, alpha=0.2, warmup_target=0.1, warmup_steps=10)
    wrapped = Warmup(CosineDecay(0.1, 30, alpha=0.2), warmup_steps=10, initial_learning_rate=0.01)
    np.testing.assert_allclose(values_at(built_in), values_at(wrapped), rtol=1e-6, atol=1e-9)
    # Not vacuous: the ramp is there (without it step 1 would be the decay's 0.1).
    assert float(built_in(1)) == pytest.approx(0.019)


def test_cosine_config_written_before_the_warmup_arguments_still_loads():
    old = {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.0, "name": "CosineDecay"}
    restored = CosineDecay.from_config(old)
    assert (restored.warmup_target, restored.warmup_steps) == (None, 0)
    np.testing.assert_array_equal(values_at(restored), values_at(CosineDecay(0.1, 10)))


def _constant():
    return InverseTimeDecay(0.1, 1, 0.0)


INVALID = [
    (lambda: InverseTimeDecay(0.1, 0, 0.5), r"`decay_steps` must be > 0. Received: decay_steps=0"),
    (lambda: InverseTimeDecay(-0.1, 1, 0.5), r"`initial_learning_rate` must be >= 0"),
    (lambda: InverseTimeDecay("0.1", 1, 0.5), r"`initial_learning_rate` must be a number"),
    (lambda: InverseTimeDecay(0.1, 1, -0.5), r"`decay_rate` must be >= 0"),
    (lambda: InverseTimeDecay(0.1, 1, float("nan")), r"`decay_rate` must be a finite number"),
    (lambda: InverseTimeDecay(0.1, 1, 0.5, staircase=1), r"`staircase` must be True or False"),
    (lambda: InverseTimeDecay(0.1, 1, 0.5, name=""), r"`name` must be a non-empty string"),
    (lambda: ExponentialDecay(0.1, 1, 0.0), r"`decay_rate` must be > 0. Received: decay_rate=0.0"),
    (lambda: ExponentialDecay(0.1, -3, 0.9), r"`decay_steps` must be > 0"),
    (lambda: ExponentialDecay(0.1, 1, True), r"`decay_rate` must be a number"),
    (lambda: InverseSqrtDecay(0.1, 0), r"`decay_steps` must be > 0"),
    (lambda: InverseSqrtDecay(0.1, 1, decay_rate=-1), r"`decay_rate` must be >= 0"),
    (lambda: PiecewiseConstantDecay([10, 5], [1, 2, 3]), r"`boundaries` must be strictly increas"),
    (lambda: PiecewiseConstantDecay([5, 5], [1, 2, 3]), r"`boundaries` must be strictly increas"),
    (lambda: PiecewiseConstantDecay([5], [1.0]), r"`values` must be a list one longer"),
    (lambda: PiecewiseConstantDecay([5.5], [1, 2]), r"`boundaries` must be an integer >= 0"),
    (lambda: PiecewiseConstantDecay([-1], [1, 2]), r"`boundaries` must be an integer >= 0"),
    (lambda: PiecewiseConstantDecay(5, [1, 2]), r"`boundaries` must be a list of integers"),
    (lambda: PiecewiseConstantDecay([5], [1, -2]), r"`values` must be >= 0"),
    (lambda: CosineDecay(0.1, 0), r"`decay_steps` must be > 0"),
    (lambda: CosineDecay(0.1, 10, alpha=1.5), r"`alpha` must be in \[0, 1\]. Received: alpha=1.5"),
    (lambda: CosineDecay(0.1, 10, warmup_target=-0.1), r"`warmup_target` must be >= 0"),
    (lambda: CosineDecay(0.1, 10, warmup_target="0.1"), r"`warmup_target` must be a number"),
    (lambda: CosineDecay(0.1, 10, warmup_steps=-1), r"`warmup_steps` must be an integer >= 0"),
    (lambda: CosineDecay(0.1, 10, warmup_steps=2.5), r"`warmup_steps` must be an integer >= 0"),
    (lambda: Warmup(_constant(), 0), r"`warmup_steps` must be an integer > 0"),
    (lambda: Warmup(_constant(), 2.5), r"`warmup_steps` must be an integer > 0"),
    (lambda: Warmup(lambda: 0.1, 5), r"`schedule` must be a `LearningRateSchedule`.*callables"),
    (lambda: Warmup("fast", 5), r"`schedule` must be a `LearningRateSchedule` or a non-negative"),
    (lambda: Warmup(-0.1, 5), r"`schedule` must be a `LearningRateSchedule` or a non-negative"),
    (lambda: Warmup(0.1, 5, initial_learning_rate=-1), r"`initial_learning_rate` must be >= 0"),
    (lambda: Warmup(0.1, 5, shift_steps="no"), r"`shift_steps` must be True or False"),
    (lambda: SequentialSchedule([], []), r"`schedules` must be a non-empty list"),
    (lambda: SequentialSchedule([0.1, 0.2], []), r"`boundaries` must have one entry fewer"),
    (lambda: SequentialSchedule([0.1, 0.2], [0]), r"`boundaries` must start at >= 1"),
    (lambda: SequentialSchedule([0.1, 0.2, 0.3], [5, 5]), r"`boundaries` must be strictly"),
    (lambda: SequentialSchedule([0.1, "x"], [5]), r"`schedules` must be a `LearningRateSch"),
    (lambda: PolynomialDecay(0.1, 0), r"`decay_steps` must be > 0. Received: decay_steps=0"),
    (lambda: PolynomialDecay(0.1, 10, end_learning_rate=-0.1), r"`end_learning_rate` must be >= 0"),
    (lambda: PolynomialDecay(-0.1, 10), r"`initial_learning_rate` must be >= 0"),
    (lambda: PolynomialDecay(0.1, 10, power=-1.0), r"`power` must be >= 0. Received: power=-1.0"),
    (lambda: PolynomialDecay(0.1, 10, cycle="yes"), r"`cycle` must be True or False"),
    (lambda: CosineDecayRestarts(0.1, 0), r"`first_decay_steps` must be > 0. Received: first_decay_steps=0"),
    (lambda: CosineDecayRestarts(-0.1, 10), r"`initial_learning_rate` must be >= 0"),
    (lambda: CosineDecayRestarts(0.1, 10, t_mul=0.0), r"`t_mul` must be > 0. Received: t_mul=0.0"),
    (lambda: CosineDecayRestarts(0.1, 10, m_mul=-0.5), r"`m_mul` must be >= 0"),
    (lambda: CosineDecayRestarts(0.1, 10, alpha=1.5), r"`alpha` must be in \[0, 1\]"),
    (lambda: CosineDecayRestarts(0.1, 10, name=""), r"`name` must be a non-empty string"),
    (lambda: PerEpoch(0.1, 10), r"`schedule` must be a `LearningRateSchedule`. Received"),
    (lambda: PerEpoch(_constant(), 0), r"`steps_per_epoch` must be an integer > 0"),
    (lambda: ScaledSchedule(_constant(), -1.0), r"`multiplier` must be >= 0"),
    (lambda: ScaledSchedule(_constant(), "2"), r"`multiplier` must be a number"),
]


@pytest.mark.parametrize("make, message", INVALID, ids=[m for _, m in INVALID])
def test_invalid_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("case", CASES)
def test_config_round_trip(case):
    schedule = CASES[case][0]()
    # Through JSON, as a saved model stores it.
    config = json.loads(json.dumps(keras.optimizers.schedules.serialize(schedule)))
    restored = keras.optimizers.schedules.deserialize(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    np.testing.assert_array_equal(values_at(restored), values_at(schedule))


def test_scaled_schedule_config_keeps_the_current_multiplier():
    schedule = ScaledSchedule(Warmup(CosineDecay(0.1, 10), 3))
    schedule.multiplier.assign(0.125)
    restored = ScaledSchedule.from_config(schedule.get_config())
    assert float(restored.multiplier) == 0.125
    assert restored.multiplier is not schedule.multiplier


def _fit_steps(model, steps, recorder):
    x = np.ones((steps, 1), "float32")
    model.fit(x, x, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[recorder])


@pytest.mark.parametrize("case", CASES)
def test_learning_rate_applied_by_fit_is_the_schedule_value(case):
    make_schedule, reference = CASES[case]
    # Compiled as each backend compiles: XLA on TensorFlow, jax.jit on JAX. On PyTorch,
    # jit_compile=True is torch.compile (~40 s of Inductor per model here): eager, its default.
    jit_compile = keras.backend.backend() != "torch"
    model = one_weight_model(SGD(learning_rate=make_schedule()), jit_compile=jit_compile)
    recorder = KernelRecorder()
    _fit_steps(model, 30, recorder)
    # Update n (from 0) uses schedule(n), n = optimizer.iterations before the update.
    np.testing.assert_allclose(
        recorder.applied_learning_rates(), reference(np.arange(30)), rtol=1e-5, atol=1e-6
    )


def test_scaled_schedule_multiplier_acts_in_the_compiled_function_without_retracing():
    model = one_weight_model(SGD(learning_rate=ScaledSchedule(CosineDecay(0.1, decay_steps=20))))
    recorder = KernelRecorder()
    _fit_steps(model, 3, recorder)
    train_function = model.train_function
    model.optimizer._learning_rate.multiplier.assign(0.25)
    _fit_steps(model, 3, recorder)
    assert model.train_function is train_function
    expected = [cosine(0.1, 20, 0, n) * (1.0 if n < 3 else 0.25) for n in range(6)]
    np.testing.assert_allclose(recorder.applied_learning_rates(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_saved_model_reloads_with_schedule_intact(case, tmp_path):
    schedule = CASES[case][0]()
    optimizer = Adam(schedule) if case == "sequential" else SGD(schedule, momentum=0.9)
    model = one_weight_model(optimizer, loss="mse")
    _fit_steps(model, 3, KernelRecorder())
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.optimizer._learning_rate
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    np.testing.assert_array_equal(values_at(restored), values_at(schedule))
    assert int(loaded.optimizer.iterations) == 3
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(3)))
