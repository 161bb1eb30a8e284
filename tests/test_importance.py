"""The functional-ANOVA importance against functions whose variance decomposition is known, the
search's sampling, and the experiment end to end."""

import json
import textwrap

import numpy as np
import pytest

from experiments import cli
from experiments.kinds import importance

# f(u) = 10 u0^2 + 3 u1 + 0.1 u2 on the unit cube: Var(10 u^2) = 100 (1/5 - 1/9), Var(3 u) = 9/12,
# Var(0.1 u) = 0.01/12; additive, so the main effects explain everything.
VARIANCES = np.array([100 * (1 / 5 - 1 / 9), 9 / 12, 0.01 / 12, 0.0])
FRACTIONS = VARIANCES / VARIANCES.sum()  # 0.922, 0.078, 0.0000864, 0


def _f(u):
    return 10 * u[:, 0] ** 2 + 3 * u[:, 1] + 0.1 * u[:, 2]


def test_main_effects_of_an_additive_function_are_its_variance_shares():
    fractions = importance.main_effects(_f, 4, grid=64, background=4000, seed=0)
    assert FRACTIONS[0] == pytest.approx(0.9221, abs=1e-4)
    np.testing.assert_allclose(fractions, FRACTIONS, rtol=0.05, atol=1e-3)


def test_interaction_only_function_has_no_main_effects():
    # f = (u0 - 1/2)(u1 - 1/2): every marginal is 0; the variance is all interaction.
    fractions = importance.main_effects(lambda u: (u[:, 0] - 0.5) * (u[:, 1] - 0.5), 2, grid=16, background=2000)
    assert fractions.max() < 0.01


def test_forest_importance_recovers_the_known_ranking():
    rng = np.random.default_rng(0)
    u = rng.uniform(size=(300, 4))
    y = _f(u) + 0.05 * rng.standard_normal(300)
    fractions = importance.forest_importance(u, y, trees=100, grid=16, background=256)
    assert fractions[0] > 0.75
    assert fractions[0] > fractions[1] > max(fractions[2], fractions[3])
    boot = importance.bootstrap_importance(u, y, 5, trees=30, grid=8, background=64)
    assert boot.shape == (5, 4) and np.all(boot[:, 0] > boot[:, 1])


def test_sampling_scales():
    assert importance.to_setting("log", 1e-3, 1.0, 0.0) == pytest.approx(1e-3)
    assert importance.to_setting("log", 1e-3, 1.0, 0.5) == pytest.approx(0.0316)
    assert importance.to_setting("one_minus_log", 0.9, 0.9999, 0.0) == pytest.approx(0.9999)
    assert importance.to_setting("one_minus_log", 0.9, 0.9999, 1.0) == pytest.approx(0.9)
    assert [importance.to_setting("power2", 16, 256, u) for u in (0.0, 0.39, 0.99)] == [16, 32, 256]
    assert [importance.to_setting("integer", 1, 4, u) for u in (0.0, 0.3, 0.99)] == [1, 2, 4]
    u, trials = importance.sample_trials(importance.SPACES["adam"], 5, seed=3)
    assert u.shape == (5, 8) and all(0.9 <= t["beta_2"] <= 0.9999 for t in trials)
    assert importance.sample_trials(importance.SPACES["adam"], 5, seed=3)[1] == trials


def test_experiment_end_to_end(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny_importance.toml").write_text(textwrap.dedent("""
        description = "tiny"
        question = "tiny?"
        kind = "importance"
        [params]
        trials = 4
        epochs = 1
        limit = 120
        trees = 10
        grid = 4
        background = 16
        bootstrap = 3
    """))
    assert cli.main(["tiny_importance", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs")]) == 0
    out = tmp_path / "logs" / "tiny_importance"
    findings = json.loads((out / "findings.json").read_text())["findings"]
    claim = next(f for f in findings if f["id"] == "hyperparameter-importance")
    assert claim["n"] == 4 and claim["ci"][0] <= claim["effect"] <= claim["ci"][1]
    saved = json.loads((out / "importance.json").read_text())
    assert len(saved["adam"]["importance"]) == 8 and len(saved["sgd"]["bootstrap"]) == 3
    assert (out / "importance.png").stat().st_size > 0


def test_the_rate_first_verdict_needs_the_default_numbers_of_trials_and_resamples():
    from experiments.kinds import importance

    dims = ["learning_rate", "momentum"]
    point = np.array([0.8, 0.1])

    def verdict(trials, resamples):
        boot = np.tile(point, (resamples, 1))  # every resample: the rate far ahead
        return importance.rate_first_finding((dims, point, boot, np.zeros(trials))).verdict

    assert verdict(importance.MIN_DECIDING_TRIALS, importance.MIN_DECIDING_RESAMPLES) == "supported"
    assert verdict(6, importance.MIN_DECIDING_RESAMPLES) == "inconclusive"  # the quick size's trials
    assert verdict(importance.MIN_DECIDING_TRIALS, 5) == "inconclusive"  # ... and its resamples
