"""Worked examples from Prometheus' own PromQL tests (promql/promqltest/testdata/histograms.test)."""

import math

import numpy as np
import pytest

from analyzer.stats.histogram import (
    histogram_quantile,
    histogram_quantiles,
    slow_counts,
    smallest_bound_at_or_above,
    suggest_bounds,
)

INF = math.inf
POSITIVE = ([0.1, 0.2, 1.0, INF], [50, 70, 110, 120])
NEGATIVE = ([-0.2, -0.1, 0.3, INF], [10, 20, 20, 30])
MIDDLES = ([0.0, 2.0, 4.0, 6.0, INF], [0, 1, 2, 3, 3])
THREE = ([0.0, 0.1, 0.2, 1.0, INF], [0, 5, 7, 11, 11])


@pytest.mark.parametrize(
    ("histogram", "q", "expected"),
    [
        (POSITIVE, 0.0, 0.0),
        (POSITIVE, 0.2, 0.048),
        (POSITIVE, 0.5, 0.15),
        (POSITIVE, 0.8, 0.72),
        (POSITIVE, 1.0, 1.0),
        (NEGATIVE, 0.0, -0.2),
        (NEGATIVE, 0.2, -0.2),
        (NEGATIVE, 0.5, -0.15),
        (NEGATIVE, 0.8, 0.3),
        (NEGATIVE, 1.0, 0.3),
        (MIDDLES, 1 / 6, 1.0),
        (MIDDLES, 0.5, 3.0),
        (MIDDLES, 5 / 6, 5.0),
        (THREE, 0.25, 0.055),
        (THREE, 0.5, 0.125),
        (THREE, 0.75, 0.45),
        (THREE, 1.0, 1.0),
        # sum by (le) of request_duration_seconds over four series: 0.1 -> 10, 0.2 -> 19, +Inf -> 25
        (([0.1, 0.2, INF], [10, 19, 25]), 0.3, 0.075),
        (([0.1, 0.2, INF], [10, 19, 25]), 0.5, 0.1277777777777778),
    ],
)
def test_matches_promql_histogram_quantile(histogram, q, expected):
    le, counts = histogram
    assert histogram_quantile(q, le, counts) == pytest.approx(expected, abs=1e-12)


def test_out_of_range_quantiles_and_empty_histograms():
    le, counts = POSITIVE
    assert histogram_quantile(-0.1, le, counts) == -INF
    assert histogram_quantile(1.01, le, counts) == INF
    assert math.isnan(histogram_quantile(float("nan"), le, counts))
    assert math.isnan(histogram_quantile(0.5, le, [0, 0, 0, 0]))


def test_vectorised_rows_agree_with_single_calls():
    le, counts = POSITIVE
    rows = np.array([counts, [1, 2, 3, 4], [0, 0, 0, 9]], dtype=float)
    values = histogram_quantiles(0.9, le, rows)
    assert list(values) == [histogram_quantile(0.9, le, list(r)) for r in rows]


def test_slow_counts_and_bounds():
    le, counts = POSITIVE
    assert float(slow_counts(counts, 1)) == 50.0  # 120 requests, 70 at or under 0.2 s
    assert smallest_bound_at_or_above(le, 0.15) == 1
    assert smallest_bound_at_or_above(le, 0.2) == 1
    assert smallest_bound_at_or_above(le, 5.0) is None
    ladder = suggest_bounds(0.2, 0.1)
    assert ladder[0] == 0.2 and ladder[-1] >= 0.22
