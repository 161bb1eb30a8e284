"""The gradient-noise estimators against a synthetic case with a known covariance, the model's
per-example gradients against Keras's batch gradient, and the experiment end to end."""

import json
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments import cli
from experiments.engine.models import build_mlp
from experiments.kinds import gradient_noise

# Per-example gradients g_i = G + L z_i: Sigma = L L^T, known exactly.
TRUE_MEAN = np.array([1.0, -2.0, 0.5, 0.0])
CHOLESKY = np.array([[2.0, 0, 0, 0], [0.5, 1.0, 0, 0], [0, 0.3, 0.2, 0], [1.0, 0, 0, 3.0]])
TRUE_TRACE = float(np.trace(CHOLESKY @ CHOLESKY.T))  # 4 + 1.25 + 0.13 + 10 = 15.38
TRUE_B_SIMPLE = TRUE_TRACE / float(TRUE_MEAN @ TRUE_MEAN)  # 15.38 / 5.25


def _synthetic(n, seed=0):
    rng = np.random.default_rng(seed)
    return TRUE_MEAN + rng.standard_normal((n, 4)) @ CHOLESKY.T


def test_noise_scale_of_a_known_covariance():
    mean, trace, squared_norm, b_simple = gradient_noise.noise_statistics(_synthetic(200_000))
    assert TRUE_TRACE == pytest.approx(15.38)
    np.testing.assert_allclose(mean, TRUE_MEAN, atol=0.02)
    assert trace == pytest.approx(TRUE_TRACE, rel=0.01)
    assert squared_norm == pytest.approx(5.25, rel=0.01)
    assert b_simple == pytest.approx(TRUE_B_SIMPLE, rel=0.02)


def test_noise_statistics_by_hand():
    # g = (0, 0), (2, 0), (1, 3): G = (1, 1), deviations (-1,-1), (1,-1), (0, 2): tr = (2 + 2 + 4) / 3.
    _, trace, squared_norm, b_simple = gradient_noise.noise_statistics([[0, 0], [2, 0], [1, 3]])
    assert (trace, squared_norm, b_simple) == pytest.approx((8 / 3, 2.0, 4 / 3))


def test_sampled_batch_errors_follow_the_finite_population_law():
    g = _synthetic(400)
    _, trace, _, _ = gradient_noise.noise_statistics(g)
    gram = gradient_noise.centred_gram(g)
    rng = np.random.default_rng(1)
    for batch in (1, 10, 100, 400):
        errors = gradient_noise.sampled_batch_errors(gram, batch, 3000, rng)
        expected = gradient_noise.expected_batch_error(trace, 400, batch)
        assert errors.mean() == pytest.approx(expected, rel=0.06, abs=1e-9), batch
    assert gradient_noise.expected_batch_error(trace, 400, 400) == 0.0
    # A batch's error computed directly agrees with the Gram-matrix form.
    idx = np.arange(7)
    direct = np.sum((g[idx].mean(axis=0) - g.mean(axis=0)) ** 2)
    assert gram[np.ix_(idx, idx)].sum() / 49 == pytest.approx(direct)


def test_two_batch_size_estimator_recovers_the_true_values():
    rng = np.random.default_rng(2)
    small, big = 4, 64
    # Batches with replacement from the distribution itself: E|g_B|^2 = |G|^2 + tr(Sigma) / B.
    small_norms = [np.sum(_synthetic(small, s).mean(axis=0) ** 2) for s in rng.integers(1 << 30, size=4000)]
    big_norms = [np.sum(_synthetic(big, s).mean(axis=0) ** 2) for s in rng.integers(1 << 30, size=4000)]
    squared_norm, trace = gradient_noise.noise_scale_from_two_batch_sizes(np.mean(small_norms), np.mean(big_norms), small, big)
    assert squared_norm == pytest.approx(5.25, rel=0.05)
    assert trace == pytest.approx(TRUE_TRACE, rel=0.05)


def test_log_log_slope_of_an_exact_power_law():
    sizes = np.array([1, 2, 4, 8, 16])
    assert gradient_noise.log_log_slope(sizes, 3.0 / sizes) == pytest.approx(-1.0)


def test_per_example_gradients_average_to_the_batch_gradient():
    model = build_mlp(5, 3, width=4, depth=1, seed=0)
    x = np.random.default_rng(0).standard_normal((9, 5)).astype("float32")
    y = np.array([0, 1, 2] * 3, dtype="int32")
    per_example = gradient_noise.per_example_gradient_function(model)(x, y)
    assert per_example.shape == (9, model.count_params())
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x)))
    batch = np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, model.trainable_variables)])
    np.testing.assert_allclose(per_example.mean(axis=0), batch, rtol=1e-4, atol=1e-6)


def test_where_the_best_rate_stops_growing():
    assert gradient_noise.where_rate_stops_growing({16: 0.1, 64: 0.3, 256: 0.3}) == (64, 256)
    assert gradient_noise.where_rate_stops_growing({16: 0.1, 64: 0.3, 256: 1.0}) == (256, None)


def test_experiment_end_to_end(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny_noise.toml").write_text(textwrap.dedent("""
        description = "tiny"
        question = "tiny?"
        kind = "gradient_noise"
        seeds = 2
        max_seeds = 2  # a fixed plan: no extra seeds for an undecided claim
        [params]
        width = 8
        limit = 120
        checkpoint_epochs = [0, 1]
        batch_sizes = [1, 2, 4, 8]
        draws = 20
        [[claims]]
        id = "minibatch-noisy-gradient"
        claim = "1/B"
        test = "kind"
        measure = "batch_error_slope"
        target = -1.0
        direction = "within"
        margin = 0.1
    """))
    assert cli.main(["tiny_noise", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs")]) == 0
    out = tmp_path / "logs" / "tiny_noise"
    findings = {f["id"] or f["claim"]: f for f in json.loads((out / "findings.json").read_text())["findings"]}
    claim = findings["minibatch-noisy-gradient"]
    assert claim["n"] == 4 and claim["verdict"] in ("supported", "contradicted", "inconclusive")
    critical = next(f for k, f in findings.items() if k.startswith("Critical batch size"))
    assert "has not been run" in critical["evidence"]
    assert (out / "gradient_noise.png").stat().st_size > 0
    measured = json.loads((out / "measurements.json").read_text())
    assert len(measured) == 4 and all(m["b_simple"] > 0 for m in measured)


def test_bad_params_exit_2_before_running(tmp_path, capsys):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "bad.toml").write_text('description = "d"\nquestion = "q"\nkind = "gradient_noise"\n[params]\ndraws = "many"\n')
    assert cli.main(["bad", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs"), "--dry-run"]) == 2
    assert "params.draws" in capsys.readouterr().err
