"""Seeds until decided: the sequential rule's false-verdict rate when it looks after every batch of
seeds, on simulated data with no effect, against the fixed-n rule looked at just as often; and the
confidence sequences against hand-computed values of their published formulas."""

import math

import numpy as np
import pytest

from experiments.evidence import decision, sequential

LOOKS = [6, 12, 18, 24, 30]  # the experiment's 6 seeds, then 6 more at a time up to a budget of 30


def _first_verdict(values, rule):
    """The verdict at the first look that decides, looking after every batch."""
    for k in range(1, len(LOOKS) + 1):
        seen = values[: LOOKS[k - 1]]
        if rule == "fixed":
            result = decision.decide_looks(seen, "less", 0.0, [len(seen)], sequential_rule=False)
        else:
            result = decision.decide_looks(seen, "less", 0.0, LOOKS[:k], t_opt=LOOKS[-1], sequential_rule=True)
        if result.verdict != "inconclusive":
            return result.verdict
    return "inconclusive"


def _false_rate(draw, rule, trials=400):
    rng = np.random.default_rng(1)
    return np.mean([_first_verdict(draw(rng), rule) in ("supported", "contradicted") for _ in range(trials)])


def test_peeking_after_every_batch_keeps_false_verdicts_at_most_5_percent():
    """True effect 0: every supported or contradicted verdict is false. The sequential rule stays
    <= 5% (its 400 trials' binomial sd is 1.1%); the fixed-n t rule, looked at after every batch,
    does not: that is why extra seeds need confidence sequences."""
    normal = lambda rng: list(rng.normal(0.0, 1.0, LOOKS[-1]))  # noqa: E731
    sequential_rate, fixed_rate = _false_rate(normal, "sequential"), _false_rate(normal, "fixed")
    print(f"continuous, no effect: sequential {sequential_rate:.3f}, fixed-n peeked {fixed_rate:.3f}")
    assert sequential_rate <= 0.05
    assert fixed_rate > 0.08


def test_paired_yes_no_outcomes_keep_false_verdicts_at_most_5_percent():
    """Two arms each succeed with probability 0.5, independently: no difference of proportions."""
    pairs = lambda rng: [tuple(int(x) for x in row) for row in rng.random((LOOKS[-1], 2)) < 0.5]  # noqa: E731
    rng = np.random.default_rng(2)
    verdicts = []
    for _ in range(200):
        values = pairs(rng)
        for k in range(1, len(LOOKS) + 1):
            result = decision.decide_looks(values[: LOOKS[k - 1]], "greater", 0.0, LOOKS[:k], decision.PAIRED_OUTCOMES,
                                           t_opt=LOOKS[-1], sequential_rule=True)  # fmt: skip
            if result.verdict != "inconclusive":
                break
        verdicts.append(result.verdict)
    rate = np.mean([v in ("supported", "contradicted") for v in verdicts])
    print(f"paired yes/no, no difference: sequential {rate:.3f}")
    assert rate <= 0.05


def test_asymptotic_cs_matches_the_published_formula_by_hand():
    """Waudby-Smith et al. (2024), Thm 2.2, at t = 4 for x = 1, 2, 3, 4, alpha = 0.05, t_opt = 4:
    rho^2 = (-2 log 0.05 + log(-2 log 0.05 + 1)) / 4 = (5.99146 + 1.94469) / 4 = 1.98404;
    half = sd * sqrt(2 (4 rho^2 + 1) / (16 rho^2) * log(sqrt(4 rho^2 + 1) / 0.05))
         = 1.29099 * sqrt(2 * 8.93615 / 31.7446 * log(2.98934 / 0.05)) = 1.29099 * 1.51760 = 1.95922."""
    assert sequential.rho_squared(4, 0.05) == pytest.approx(1.98404, abs=1e-5)
    means, lows, highs = sequential.asymptotic_cs([1.0, 2.0, 3.0, 4.0], 0.05, 4)
    assert means[-1] == 2.5 and highs[-1] - 2.5 == pytest.approx(1.95922, abs=1e-4)
    assert math.isinf(highs[0])  # no spread from one value


def test_bounded_cs_matches_the_published_formula_by_hand():
    """Waudby-Smith & Ramdas (2023), Thm 2, for x = (1, 0), alpha = 0.05:
    t=1: var_hat_0 = 1/4, lambda_1 = min(sqrt(2 log 40 / (0.25 * 1 * log 2)), 1/2) = 1/2;
    mu_hat_1 = (0.5 + 1) / 2 = 0.75, var_hat_1 = (0.25 + 0.0625) / 2 = 0.15625;
    t=2: lambda_2 = min(sqrt(2 log 40 / (0.15625 * 2 * log 3)), 1/2) = 1/2;
    centre = (0.5 * 1 + 0.5 * 0) / 1 = 0.5;
    psi(1/2) = (log 2 - 1/2) / 4 = 0.0482868; v = 4 (1 - 0.5)^2 = 1, 4 (0 - 0.75)^2 = 2.25;
    half = (log 40 + 3.25 * 0.0482868) / 1 = 3.68888 + 0.15693 = 3.84581: the whole [0, 1]."""
    centres, lows, highs = sequential.bounded_cs([1.0, 0.0], 0.05)
    assert centres[-1] == pytest.approx(0.5)
    assert (lows[-1], highs[-1]) == (0.0, 1.0)
    centres, lows, highs = sequential.bounded_cs([1.0] * 200, 0.05)
    assert lows[-1] > 0.9 and highs[-1] == 1.0
