import numpy as np
import pytest
from scipy import stats

from analyzer.stats.diagnostics import bootstrap_quantile_ratio, chi2_homogeneity


def test_chi2_equals_scipy_contingency_when_nothing_is_merged():
    canary = np.array([50, 80, 40, 30])
    stable = np.array([400, 700, 420, 250])
    expected = stats.chi2_contingency(np.vstack([canary, stable]), correction=False).pvalue
    assert chi2_homogeneity(canary, stable) == pytest.approx(expected, rel=1e-10)


def test_chi2_merges_sparse_buckets_then_matches_scipy_on_the_merged_table():
    canary = np.array([50, 80, 1, 0, 30])
    stable = np.array([400, 700, 2, 1, 250])
    merged = np.array([[50, 80, 31], [400, 700, 253]])
    expected = stats.chi2_contingency(merged, correction=False).pvalue
    assert chi2_homogeneity(canary, stable) == pytest.approx(expected, rel=1e-10)


def test_chi2_needs_data_in_both_arms():
    assert chi2_homogeneity([0, 0, 0], [5, 6, 7]) is None


def test_bootstrap_interval_covers_one_for_identical_arms_and_excludes_it_for_a_slowdown():
    le = [0.1, 0.2, 0.3, 0.4, 0.5, float("inf")]
    same = bootstrap_quantile_ratio(0.95, le, [500, 800, 900, 950, 990, 1000], [5000, 8000, 9000, 9500, 9900, 10000])
    assert same is not None and same[0] < 1.0 < same[1]
    slow = bootstrap_quantile_ratio(0.95, le, [100, 300, 600, 850, 960, 1000], [5000, 8000, 9000, 9500, 9900, 10000])
    assert slow is not None and slow[0] > 1.0
    assert bootstrap_quantile_ratio(0.95, le, [0] * 6, [1] * 6) is None


def test_merging_far_buckets_leaves_the_bootstrap_unchanged(monkeypatch):
    """Cells far below the quantile are merged for speed; with many draws the interval is the same."""
    from analyzer.stats import diagnostics

    le = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, float("inf")]
    canary = [20, 90, 600, 2400, 6100, 9400, 9900, 9990, 10000]
    stable = [210, 950, 6100, 24500, 61800, 94400, 99000, 99900, 100000]
    assert diagnostics._first_needed_bound(0.95, [np.asarray(canary, float), np.asarray(stable, float)]) == 4
    merged = diagnostics.bootstrap_quantile_ratio(0.95, le, canary, stable, draws=20000)
    monkeypatch.setattr(diagnostics, "_first_needed_bound", lambda q, arms: 0)
    whole = diagnostics.bootstrap_quantile_ratio(0.95, le, canary, stable, draws=20000)
    assert merged is not None and whole is not None
    assert merged == pytest.approx(whole, rel=5e-3)
