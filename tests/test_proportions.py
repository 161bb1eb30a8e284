"""Yes/no outcomes: Wilson's score interval against the published example, the exact conditional
(McNemar) paired-difference interval against hand-computed values, and the rule choosing them
over the median of 0/1 differences."""

import pytest

from experiments.evidence import decision, proportions


def test_wilson_interval_matches_newcombe_1998a():
    # Newcombe (1998a), Stat. Med. 17:857, example 81/263: 0.2553 to 0.3662 (method 3, score).
    low, high = proportions.wilson_interval(81, 263, 0.95)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    # By hand, 0/10: high = (0 + z^2/2)/(10 + z^2) + z/(10 + z^2) * sqrt(z^2/4) = z^2 / (10 + z^2) = 0.27753.
    assert proportions.wilson_interval(0, 10, 0.95) == pytest.approx((0.0, 0.27753), abs=1e-5)


def test_paired_difference_interval_by_hand():
    # Clopper-Pearson, 0 of 10 at 95%: high = 1 - 0.025 ** (1/10) = 1 - 0.691503 = 0.308497.
    assert proportions.clopper_pearson(0, 10, 0.95) == pytest.approx((0.0, 0.308497), abs=1e-6)
    # 10 pairs, all (yes, no): b = 10, c = 0. Each interval at 97.5%, so its lower end for 10 of 10
    # is 0.0125 ** (1/10) = 0.645195, for psi (10 of 10 disagree) and for pi (10 of 10 first only);
    # low = (2 * 0.645195 - 1) * 0.645195 = 0.187358, high = (2 * 1 - 1) * 1 = 1.
    effect, (low, high) = proportions.paired_difference_interval([(1, 0)] * 10, 0.95)
    assert effect == 1.0 and (low, high) == pytest.approx((0.187358, 1.0), abs=1e-6)
    # Balanced disagreement never excludes 0; no disagreement at all gives an interval around 0.
    _, (low, high) = proportions.paired_difference_interval([(1, 0)] * 3 + [(0, 1)] * 3, 0.95)
    assert low < 0 < high
    effect, (low, high) = proportions.paired_difference_interval([(1, 1)] * 5 + [(0, 0)] * 5, 0.95)
    assert effect == 0.0 and low <= 0.0 <= high


def test_paired_outcomes_are_decided_by_the_difference_of_proportions_not_the_median():
    """The double well: momentum escapes on 218 of 400 starts, gradient descent on none. The median
    of the 0/1 differences is 1 or 0 by a coin's flip; the difference of proportions is 0.545."""
    pairs = [(1, 0)] * 218 + [(0, 0)] * 182
    assert decision.value_kind(pairs) == decision.PAIRED_OUTCOMES
    result = decision.decide_looks(pairs, "greater", 0.05, [400], decision.PAIRED_OUTCOMES, sequential_rule=False)
    assert result.verdict == "supported" and result.effect == pytest.approx(0.545)
    assert 0.46 < result.ci[0] < 0.545 < result.ci[1] < 0.61  # exact: (0.468, 0.601)
    assert result.method == "exact conditional (McNemar) paired"
