"""2-D surfaces: our optimizers' paths against closed forms and float64 references computed here,
the known facts the notes rely on (gradient descent is stable below 2/L; momentum is faster on an
elongated bowl; it rolls over a small hill; saddles are left at a predictable rate), and the
experiment end to end in a tiny size."""

import math
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from experiments import spec
from experiments.evidence.findings import VERDICTS
from experiments.kinds import surfaces
from experiments.kinds.surfaces import (
    DOUBLE_WELL,
    SADDLE,
    UNNORMALIZED,
    Stepper,
    Surface,
    sign_changes,
    steps_to_tolerance,
    surface_optimizer,
)

CURVATURE = 4.0  # f = 0.5 * L * (w1**2 + w2**2): gradient descent is stable for lr < 2/L = 0.5
QUADRATIC = Surface(
    "quadratic", "L/2 |w|²", lambda w1, w2: 0.5 * CURVATURE * (w1**2 + w2**2), ((0.0, 0.0),), (-2, 2, -2, 2)
)


def heavy_ball_reference(gradient, start, learning_rate, momentum, steps, form):
    """Float64 momentum SGD from the published equations (Keras form, or the notes' EMA form)."""
    w, v, path = np.array(start, np.float64), np.zeros(2), [np.array(start, np.float64)]
    for _ in range(steps):
        g = gradient(w)
        if form == "keras":
            v = momentum * v - learning_rate * g
            w = w + v
        else:
            v = momentum * v + (1 - momentum) * g
            w = w - learning_rate * v
        path.append(w.copy())
    return np.array(path)


@pytest.mark.parametrize("fraction, converges", [(0.9, True), (1.1, False)])
def test_gradient_descent_on_a_quadratic_follows_the_closed_form_and_the_2_over_L_boundary(fraction, converges):
    learning_rate = fraction * 2 / CURVATURE
    start = np.array([1.5, -0.5])
    path = Stepper(QUADRATIC, surface_optimizer("gd")).path(start, learning_rate, 60)
    # w_t = (1 - lr L)^t w_0: |1 - lr L| = 0.8 below 2/L, 1.2 above.
    factor = (1 - learning_rate * CURVATURE) ** np.arange(61)
    np.testing.assert_allclose(path, factor[:, None] * start, rtol=1e-4, atol=1e-30)
    if converges:
        assert np.linalg.norm(path[-1]) < 1e-5 * np.linalg.norm(start)
    else:
        assert np.linalg.norm(path[-1]) > 1e4 * np.linalg.norm(start)


@pytest.mark.parametrize("fraction, converges", [(0.9, True), (1.1, False)])
def test_gradient_descent_on_the_elongated_bowl_is_stable_below_2_over_L_of_the_steep_axis(fraction, converges):
    learning_rate = fraction * 2 / surfaces.BOWL_STEEP_CURVATURE  # L = 2 on w2; 0.02 on w1
    start = np.array([-40.0, 4.0])
    path = Stepper(UNNORMALIZED, surface_optimizer("gd")).path(start, learning_rate, 40)
    steps = np.arange(41)
    expected = np.stack(
        [(1 - 0.02 * learning_rate) ** steps * start[0], (1 - 2 * learning_rate) ** steps * start[1]], axis=1
    )
    np.testing.assert_allclose(path, expected, rtol=1e-4)
    assert (abs(path[-1, 1]) < 0.1) == converges
    assert sign_changes(path[:, 1]) == 40  # 1 - 2 lr < 0 on both sides: w2 flips sign every step


def test_steps_to_tolerance_of_gradient_descent_match_the_closed_form():
    learning_rate, start, tolerance = 0.9, np.array([-40.0, 4.0]), 1e-4
    path = Stepper(UNNORMALIZED, surface_optimizer("gd")).path(start, learning_rate, 800)
    t = np.arange(801)
    f = ((1 - 0.02 * learning_rate) ** t * start[0] / 10) ** 2 + ((1 - 2 * learning_rate) ** t * start[1]) ** 2
    expected = int(np.flatnonzero(f >= tolerance)[-1]) + 1  # f decreases monotonically here
    assert abs(steps_to_tolerance(UNNORMALIZED, path, tolerance) - expected) <= 1


@pytest.mark.parametrize("form", ["keras", "ema"])
def test_momentum_paths_match_a_float64_reference(form):
    name = "momentum" if form == "keras" else "momentum_ema"
    stepper = Stepper(UNNORMALIZED, surface_optimizer(name, momentum=0.9))
    start = (-40.0, 4.0)
    path = stepper.path(start, 0.9, 30)
    gradient = lambda w: np.array([0.02 * w[0], 2.0 * w[1]])  # noqa: E731
    np.testing.assert_allclose(path, heavy_ball_reference(gradient, start, 0.9, 0.9, 30, form), rtol=1e-4, atol=1e-4)
    # A second path starts from a fresh optimizer: the velocity was reset.
    np.testing.assert_array_equal(stepper.path(start, 0.9, 30), path)


def test_adam_path_is_the_same_as_with_a_new_optimizer():
    start = (-40.0, 4.0)
    reused = Stepper(UNNORMALIZED, surface_optimizer("adam"))
    reused.path((10.0, -1.0), 0.3, 17)  # leaves moments and the step count behind
    again = reused.path(start, 0.5, 25)
    fresh = Stepper(UNNORMALIZED, surface_optimizer("adam")).path(start, 0.5, 25)
    np.testing.assert_array_equal(again, fresh)


@pytest.mark.parametrize("name", ["momentum", "momentum_ema"])
def test_momentum_reaches_the_bowls_minimum_in_fewer_steps_than_gradient_descent_at_the_same_rate(name):
    learning_rate, start, tolerance = 0.9, (-40.0, 4.0), 1e-4  # 0.9 x 2/L: gradient descent zigzags
    plain = Stepper(UNNORMALIZED, surface_optimizer("gd")).path(start, learning_rate, 600)
    heavy = Stepper(UNNORMALIZED, surface_optimizer(name, momentum=0.9)).path(start, learning_rate, 600)
    plain_steps = steps_to_tolerance(UNNORMALIZED, plain, tolerance)
    heavy_steps = steps_to_tolerance(UNNORMALIZED, heavy, tolerance)
    assert heavy_steps is not None and plain_steps is not None
    assert heavy_steps < plain_steps
    assert sign_changes(heavy[: heavy_steps + 1, 1]) < sign_changes(plain[: plain_steps + 1, 1])


def test_double_well_momentum_rolls_over_the_hill_where_gradient_descent_stays():
    # Critical points of (w1^2 - 1)^2 + 0.5 w1 along w1: roots of 4 w1^3 - 4 w1 + 0.5.
    global_min, hill, local_min = sorted(np.roots([4.0, 0.0, -4.0, 0.5]).real)
    start, learning_rate = (1.8, 0.8), 0.02
    plain = Stepper(DOUBLE_WELL, surface_optimizer("gd")).path(start, learning_rate, 600)
    heavy = Stepper(DOUBLE_WELL, surface_optimizer("momentum", momentum=0.9)).path(start, learning_rate, 600)
    np.testing.assert_allclose(plain[-1], [local_min, 0.0], atol=1e-3)
    np.testing.assert_allclose(heavy[-1], [global_min, 0.0], atol=1e-3)
    assert surfaces.DOUBLE_WELL_HILL == pytest.approx(hill)


def test_double_well_gradient_descent_ends_in_the_basin_it_starts_in():
    global_min, hill, local_min = sorted(np.roots([4.0, 0.0, -4.0, 0.5]).real)
    stepper = Stepper(DOUBLE_WELL, surface_optimizer("gd"))
    left = stepper.path((hill - 0.05, 0.5), 0.02, 600)[-1]
    right = stepper.path((hill + 0.05, 0.5), 0.02, 600)[-1]
    np.testing.assert_allclose(left, [global_min, 0.0], atol=1e-3)
    np.testing.assert_allclose(right, [local_min, 0.0], atol=1e-3)


def test_saddle_escape_time_of_gradient_descent_follows_the_linearization():
    learning_rate, offset, threshold = 0.1, 1e-4, 0.1
    stepper = Stepper(SADDLE, surface_optimizer("gd"))
    path = stepper.path((1.0, offset), learning_rate, 80)
    # Near the saddle w2 grows by exactly 1 + 2 lr per step (the cubic term is below 0.5% at 0.1).
    predicted = math.ceil(math.log(threshold / offset) / math.log(1 + 2 * learning_rate))
    escaped = int(np.flatnonzero(np.abs(path[:, 1]) >= threshold)[0])
    assert abs(escaped - predicted) <= 1
    on_ridge = stepper.path((1.0, 0.0), learning_rate, 80)
    assert np.all(on_ridge[:, 1] == 0.0)  # no gradient across the ridge: never leaves


def test_sign_changes_and_steps_to_tolerance_definitions():
    assert sign_changes(np.array([1.0, -1.0, 1.0, 0.0, -2.0, -3.0])) == 3
    # f dips below the tolerance at step 1, leaves, and stays below from step 3 on.
    path = np.array([[0.0, 1.0], [0.0, 0.001], [0.0, 0.5], [0.0, 0.001], [0.0, 0.0]])
    assert steps_to_tolerance(UNNORMALIZED, path, 1e-4) == 3
    assert steps_to_tolerance(UNNORMALIZED, path[:3], 1e-4) is None


def test_specs_parse_for_both_sizes():
    for size in ("quick", "full"):
        experiment = spec.load("surfaces", size)
        assert experiment.kind == "surfaces"
        assert set(experiment.params) == set(surfaces.DEFAULT_PARAMS)


def test_bad_params_are_rejected():
    with pytest.raises(ValueError, match="bowl_learning_rate_fractions"):
        surfaces.check_params({**surfaces.DEFAULT_PARAMS, "bowl_learning_rate_fractions": ["a"]})
    with pytest.raises(ValueError, match="momentum"):
        surfaces.check_params({**surfaces.DEFAULT_PARAMS, "momentum": 1.0})


def image_tags(directory):
    accumulator = event_accumulator.EventAccumulator(directory, size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {
        tag: accumulator.Tensors(tag)[0].tensor_proto.string_val
        for tag in accumulator.Tags()["tensors"]
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "images"
    }


def test_run_end_to_end_in_a_tiny_size(tmp_path):
    params = {
        **surfaces.DEFAULT_PARAMS,
        "steps": 400,
        "learning_rate_grid": 5,
        "bowl_learning_rate_fractions": [0.9],
        "double_well_steps": 300,
        "double_well_starts": 2,
    }
    result = surfaces.run(params, 2, str(tmp_path))
    table, findings, figures = result.table, result.findings, result.figures
    assert set(result.measurements) == {
        "bowl_sign_changes_momentum_minus_gd", "bowl_flat_to_steep_ratio_rmsprop", "bowl_flat_to_steep_ratio_adam",
        "saddle_escaped_gd", "double_well_global_momentum_vs_gd",
    }  # fmt: skip
    assert all(len(values) == 2 for values in result.measurements.values())  # one per start

    assert {"study", "optimizer", "learning_rate", "starts", "succeeded", "steps_mean"} <= set(table.columns)
    assert set(table.study) == {
        "elongated bowl, shared rate", "elongated bowl, own best rate", "normalized vs unnormalized",
        "saddle point", "double well, starts on the worse side", "double well, random starts",
    }  # fmt: skip
    assert (table.starts == 2).all()
    assert findings and all(f.verdict in VERDICTS and f.claim and f.evidence for f in findings)
    assert figures == ["bowl_shared_rate.png", "bowl_tuned.png", "normalization.png", "saddle.png", "double_well.png",
                       "surfaces_3d.png"]  # the notes' 3-D bowls (note 002)
    for name in figures:
        with open(tmp_path / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]
    images = image_tags(str(tmp_path / surfaces.TENSORBOARD_DIR))
    assert set(images) == {name[:-4] for name in figures}
    width, height, png = images["saddle"]
    assert png.startswith(b"\x89PNG") and int(width) > 500 and int(height) > 300
