"""Yes/no outcomes: Wilson's score interval and Newcombe's paired-difference interval against the
published examples, and the rule choosing them over the median of 0/1 differences."""

import pytest

from experiments.evidence import decision, proportions


def test_wilson_interval_matches_newcombe_1998a():
    # Newcombe (1998a), Stat. Med. 17:857, example 81/263: 0.2553 to 0.3662 (method 3, score).
    low, high = proportions.wilson_interval(81, 263, 0.95)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    # By hand, 0/10: high = (0 + z^2/2)/(10 + z^2) + z/(10 + z^2) * sqrt(z^2/4) = z^2 / (10 + z^2) = 0.27753.
    assert proportions.wilson_interval(0, 10, 0.95) == pytest.approx((0.0, 0.27753), abs=1e-5)


def test_paired_difference_matches_newcombe_1998b():
    # Newcombe (1998b), Stat. Med. 17:2635, example (a = 36, b = 12, c = 2, d = 0):
    # difference 0.2, method 10: 0.0569 to 0.3404.
    pairs = [(1, 1)] * 36 + [(1, 0)] * 12 + [(0, 1)] * 2
    effect, (low, high) = proportions.paired_difference_interval(pairs, 0.95)
    assert effect == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0569, 0.3404), abs=1e-4)


def test_paired_outcomes_are_decided_by_the_difference_of_proportions_not_the_median():
    """The double well: momentum escapes on 218 of 400 starts, gradient descent on none. The median
    of the 0/1 differences is 1 or 0 by a coin's flip; the difference of proportions is 0.545."""
    pairs = [(1, 0)] * 218 + [(0, 0)] * 182
    assert decision.value_kind(pairs) == decision.PAIRED_OUTCOMES
    result = decision.decide_looks(pairs, "greater", 0.05, [400], decision.PAIRED_OUTCOMES, sequential_rule=False)
    assert result.verdict == "supported" and result.effect == pytest.approx(0.545)
    assert 0.49 < result.ci[0] < 0.545 < result.ci[1] < 0.6
    assert result.method == "Newcombe paired score"
