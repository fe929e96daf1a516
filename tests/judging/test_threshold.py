"""Canary-only thresholds: the betting e-process on bounded values, inside the judge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.judging import judge
from analyzer.judging.threshold import BET_CAP, PRIOR_PERSISTENCE, log_wealth, persistence, plug_in_bets
from analyzer.model import Measurement, MetricPolicy, Policy, Verdict
from bench.gauges import ThresholdCell, run_thresholds


def _judge(canary: dict[str, list[float | None]], **policy: object) -> object:
    m = Measurement.model_validate({"metrics": {"x": {"kind": "gauge", "canary": canary}}})
    return judge(m, Policy(metrics={"x": MetricPolicy(kind="threshold", **policy)})).metrics[0]


def test_bets_are_waudby_smith_and_ramdas_predictable_plug_in():
    y = np.array([0.2, 0.9, 0.4, 0.4, 0.0, 1.0])
    alpha = 0.01
    expected, mean, spread = [], 0.5, 0.25  # μ̂_0 and σ̂²_0 of the paper's prior values
    total, squares = 0.0, 0.0
    for i, value in enumerate(y, 1):
        expected.append(math.sqrt(2 * math.log(1 / alpha) / (spread * i * math.log(1 + i))))
        squares += (value - mean) ** 2
        total += value
        mean, spread = (0.5 + total) / (i + 1), (0.25 + squares) / (i + 1)
    assert plug_in_bets(y, alpha) == pytest.approx(expected, rel=1e-12)


def test_wealth_is_the_product_of_capped_bets():
    y, m = np.array([0.7, 0.1, 0.6, 0.9]), 0.4
    bets = np.array([0.5, 3.0, 1.0, 10.0])
    lam = np.minimum(bets, BET_CAP / m)
    expected = np.cumsum(np.log(1 + lam * (y - m)))
    assert log_wealth(y, np.array([m]), bets)[0] == pytest.approx(expected)
    # m = 0 allows no positive value: zeros bet nothing, the first positive value is decisive.
    assert log_wealth(np.array([0.0, 0.0, 0.2, 0.0]), np.array([0.0]), bets)[0].tolist() == [0, 0, math.inf, math.inf]


def test_clearly_above_fails_clearly_below_passes_near_it_waits():
    above = _judge({"a": [0.9] * 10, "b": [0.8] * 10}, limit=0.5, bound=1.0)
    assert above.verdict is Verdict.FAIL and above.interval.lower is not None and above.interval.lower > 0.5
    below = _judge({"a": [0.1] * 10, "b": [0.15] * 10}, limit=0.5, bound=1.0)
    assert below.verdict is Verdict.PASS and below.interval.upper is not None and below.interval.upper < 0.5
    near = _judge({"a": [0.45, 0.55] * 5, "b": [0.5] * 10}, limit=0.5, bound=1.0)
    assert near.verdict is Verdict.INCONCLUSIVE and "undecided" in near.reason


def test_lower_is_worse_mirrors_the_test():
    low = _judge({"a": [0.1] * 10, "b": [0.12] * 10}, limit=0.5, bound=1.0, direction="lower")
    assert low.verdict is Verdict.FAIL and low.interval.upper is not None and low.interval.upper < 0.5
    high = _judge({"a": [0.95] * 10}, limit=0.5, bound=1.0, direction="lower")
    assert high.verdict is Verdict.PASS


def test_restarts_equal_zero():
    """limit 0: the first restart fails, at its step; no restart passes once enough pod-steps show < 0.1."""
    restarted = _judge({"a": [0.0] * 6 + [1.0] + [0.0] * 3, "b": [0.0] * 10}, limit=0, pass_limit=0.1, bound=1)
    assert restarted.verdict is Verdict.FAIL and restarted.fail_step == 6
    quiet = {pod: [0.0] * 30 for pod in ("a", "b")}
    assert _judge(quiet, limit=0, pass_limit=0.1, bound=1).verdict is Verdict.PASS
    short = {pod: [0.0] * 6 for pod in ("a", "b")}  # 10 pod-steps after warm-up cannot show a rate below 0.1
    assert _judge(short, limit=0, pass_limit=0.1, bound=1, warmup_steps=0).verdict is Verdict.INCONCLUSIVE


def test_values_beyond_the_bound_count_as_the_bound_with_a_note():
    result = _judge({"a": [0.2] * 9 + [7.0]}, limit=0.5, bound=1.0)
    assert any("1 canary values above bound 1 counted as 1" in note for note in result.diagnostics.notes)


def test_a_canary_without_values_is_inconclusive():
    result = _judge({"a": [None] * 5}, limit=0.5, bound=1.0)
    assert result.verdict is Verdict.INCONCLUSIVE and "no data" in result.reason


def test_persistence_reads_the_autocorrelation_of_the_steps_before():
    rng = np.random.default_rng(4)
    ar = np.zeros((3, 400))
    for t in range(1, 400):
        ar[:, t] = 0.6 * ar[:, t - 1] + rng.normal(0, 1, 3)
    phi = persistence(ar + np.array([[0.0], [5.0], [-5.0]]))  # pods at other levels are not persistence
    assert phi[0] == phi[1] == (1 + PRIOR_PERSISTENCE) / (1 - PRIOR_PERSISTENCE)  # before any pairs
    assert phi[-1] == pytest.approx((1 + 0.6) / (1 - 0.6), rel=0.15)
    independent = persistence(rng.normal(0, 1, (3, 400)))
    assert independent[-1] == pytest.approx(1.0, abs=0.15)
    assert persistence(np.ones((2, 10)))[-1] == 1.0  # constant pods: no evidence of anything


def test_at_the_limit_false_fails_stay_below_alpha():
    """At the null's edge (every pod-step's mean is the limit), independent and autocorrelated (bench: 2,000 runs)."""
    cells = [ThresholdCell("at", mean=0.5), ThresholdCell("at, ar 0.8", mean=0.5, ar=0.8),
             ThresholdCell("80 %", mean=0.4)]
    at, persistent, below = run_thresholds(cells, runs=300, seed=3)
    assert at.fails <= 3 and persistent.fails <= 3, (at.line(), persistent.line())  # ≤ 1 % of 300
    assert below.fails == 0 and below.passes >= 290, below.line()
