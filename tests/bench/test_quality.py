"""The benchmark's own machinery against known answers, and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.sources.simulate import BIMODAL, Latency
from bench.quality.grid import Kind, full, quick
from bench.quality.judges import argo
from bench.quality.oracle import Stream, sprt
from bench.quality.run import run_cell, summarise, true_quantile, wilson


def test_wilson_interval_known_values():
    low, high = wilson(0, 200)
    assert low == 0.0 and high == pytest.approx(0.01884, abs=1e-4)  # 1.96² / (200 + 1.96²)
    low, high = wilson(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_sprt_boundaries_are_walds():
    """Λ_K by hand (Wald's formula); the test stops exactly where Λ first leaves (ln B, ln A)."""
    events, trials, p0, p1 = [5.0, 12.0, 14.0, 13.0, 15.0], [100.0] * 5, 0.05, 0.1
    upper, lower = math.log((1 - 0.05) / 0.01), math.log(0.05 / (1 - 0.01))
    path, expected = 0.0, None
    for k, (x, n) in enumerate(zip(events, trials, strict=True), start=1):
        path += x * math.log(p1 / p0) + (n - x) * math.log((1 - p1) / (1 - p0))
        if expected is None and (path >= upper or path <= lower):
            expected = ("fail" if path >= upper else "pass", k)
    assert expected is not None and expected[0] == "fail"
    decision = sprt([Stream(np.array(events), np.array(trials), p0, p1)], alpha=0.01, beta=0.05)
    assert (decision.fail, decision.passed) == (expected[1], None)
    quiet = sprt([Stream(np.full(10, 5.0), np.full(10, 100.0), p0, p1)])
    assert quiet.fail is None and quiet.passed == 2  # Λ = -1.67 per minute at 5/100: past ln B = -2.99 at minute 2


def test_sprt_error_rates_in_simulation():
    rng = np.random.default_rng(0)
    fails = sum(sprt([Stream(rng.binomial(100, 0.05, 30).astype(float), np.full(30, 100.0), 0.05, 0.1)]).fail
                is not None for _ in range(2000))
    assert fails / 2000 <= 0.01 + 0.007  # Wald: α(1-β) bound plus binomial slack


def test_argo_threshold_semantics():
    """failureLimit 0 fails at the first bad minute; NaN (no traffic) fails the condition."""
    from analyzer.sources.simulate import Scenario, simulate

    m = simulate(Scenario(steps=10, rps=0.01, canary_share=0.5), 1)  # almost no traffic: NaN minutes
    assert argo(False, 0)(m).fail == 1
    busy = simulate(Scenario(steps=10, rps=200, error_rate=0.001, latency=Latency(0.05, 0.3)), 1)
    assert argo(False, 0)(busy).fail is None and argo(False, 0)(busy).passed == 10


def test_true_quantiles():
    assert true_quantile(Latency(0.1, 0.5)) == pytest.approx(0.1 * math.exp(0.5 * 1.6448536), rel=1e-6)
    assert true_quantile(BIMODAL) == pytest.approx(0.40, abs=0.02)


def test_grids_cover_the_protocol():
    cells = full()
    assert len({c.name for c in cells}) == len(cells)
    assert {2.0, 20.0, 200.0, 2000.0} <= {c.scenario.rps for c in cells}
    assert {c.kind for c in quick()} == set(Kind)


def test_a_tiny_run_end_to_end():
    cell = next(c for c in quick() if c.name == "errors ×2, 200 rps 10 %")
    summaries = {s.judge: s for s in summarise(cell, run_cell(cell, range(4)))}
    assert set(summaries) == {"ours", "oracle", "kayenta", "argo-abs-f0", "argo-abs-f3", "argo-rel-f0", "argo-rel-f3"}
    assert summaries["ours"].fail == 1.0 and summaries["ours"].ttd_median is not None
