import math

import pytest
from scipy import stats

from analyzer.stats.rate_ratio import canary_share, rate_ratio_test, ratio_from_share

CASES = [
    # canary events, canary requests, stable events, stable requests, null ratio
    (6, 600, 50, 5400, 1.0),
    (18, 600, 54, 5400, 1.0),
    (0, 100, 12, 900, 1.0),
    (9, 612, 57, 5390, 1.5),
    (30, 1000, 30, 1000, 1.2),
    (3, 50, 1, 950, 1.0),
]


@pytest.mark.parametrize(("e_c", "n_c", "e_s", "n_s", "ratio"), CASES)
@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_conditional_test_equals_scipy_binomtest(e_c, n_c, e_s, n_s, ratio, alternative):
    ours = rate_ratio_test(e_c, n_c, e_s, n_s, ratio=ratio, alternative=alternative)
    share = n_c * ratio / (n_c * ratio + n_s)
    reference = stats.binomtest(e_c, e_c + e_s, share, alternative=alternative)
    assert ours.pvalue == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("e_c", "n_c", "e_s", "n_s", "ratio"), CASES)
def test_interval_is_clopper_pearson_on_the_share(e_c, n_c, e_s, n_s, ratio):
    ci = rate_ratio_test(e_c, n_c, e_s, n_s).confidence_interval(0.95)
    exact = stats.binomtest(e_c, e_c + e_s, 0.5).proportion_ci(0.95, method="exact")
    assert ci[0] == pytest.approx(ratio_from_share(exact.low, n_c, n_s), rel=1e-7)
    assert ci[1] == pytest.approx(ratio_from_share(exact.high, n_c, n_s), rel=1e-7)


def test_share_and_ratio_are_inverse():
    share = float(canary_share(2.0, 100, 900))
    assert share == pytest.approx(200 / 1100)
    assert ratio_from_share(share, 100, 900) == pytest.approx(2.0)


def test_estimate_and_edge_cases():
    assert rate_ratio_test(10, 1000, 10, 1000).statistic == pytest.approx(1.0)
    assert math.isinf(rate_ratio_test(3, 100, 0, 100).statistic)
    assert rate_ratio_test(0, 100, 0, 100).pvalue == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        rate_ratio_test(-1, 100, 0, 100)


def test_non_integer_counts_interpolate_between_integers():
    low = rate_ratio_test(10, 600, 50, 5400).pvalue
    high = rate_ratio_test(11, 600, 50, 5400).pvalue
    middle = rate_ratio_test(10.5, 600, 50, 5400).pvalue
    assert high < middle < low
