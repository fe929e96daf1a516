"""Between-pod variation against known answers: Pearson's statistic, coverage, the pod term's sd."""

import math

import numpy as np
import pytest
from scipy import stats

from analyzer.stats.heterogeneity import UPPER_BOUND_LEVEL, _q_statistic, _relative_rates, pod_variation


def test_q_at_zero_is_pearsons_chi_square_for_poisson_rates():
    events = np.array([12.0, 30.0, 18.0, 25.0])
    total = np.array([1000.0, 2000.0, 1500.0, 2500.0])
    expected = total * events.sum() / total.sum()
    pearson = float(((events - expected) ** 2 / expected).sum())
    assert _q_statistic([_relative_rates(events, total)], 0.0) == pytest.approx(pearson, rel=1e-12)


@pytest.mark.parametrize("tau", [0.0, 0.2])
def test_upper_bound_covers_tau_about_as_often_as_promised(tau):
    rng = np.random.default_rng(7)
    runs, covered = 600, 0
    for _ in range(runs):
        n = np.full(10, 20_000.0)
        events = rng.poisson(n * 0.01 * np.exp(rng.normal(0, tau, 10))).astype(float)
        covered += pod_variation(np.zeros(1), np.ones(1), events, n).tau >= tau
    # a (1 - 0.2) upper bound: ~80 % coverage (Q-profile is approximate; allow a few points)
    assert covered / runs >= (1 - UPPER_BOUND_LEVEL) - 0.06


def test_one_canary_pod_cannot_beat_its_own_luck():
    rng = np.random.default_rng(8)
    n = np.full(10, 50_000.0)
    events = rng.poisson(n * 0.01 * np.exp(rng.normal(0, 0.2, 10))).astype(float)
    one = pod_variation(np.array([500.0]), np.array([50_000.0]), events, n)
    three = pod_variation(np.array([160.0, 170.0, 175.0]), np.full(3, 16_700.0), events, n)
    assert one.sd == pytest.approx(one.tau * math.sqrt(1 + 0.1), rel=1e-9)
    assert three.sd < one.sd and three.canary_pods == 3 and one.stable_pods == 10


def test_no_arm_with_two_pods_is_unknown_not_zero():
    assert pod_variation(np.array([5.0]), np.array([100.0]), np.array([50.0]), np.array([1000.0])) is None
    assert stats.chi2.ppf(UPPER_BOUND_LEVEL, 9) < 9
