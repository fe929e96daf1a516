"""Latency on the buckets people have: the client libraries' defaults, any stable p95 from 20 ms to 2 s."""

from __future__ import annotations

import math

import pytest

import analyzer
from analyzer.model import Verdict
from analyzer.sources.simulate import DEFAULT_BUCKETS, Latency, Scenario, simulate

SIGMA = 0.5
Z95 = 1.6448536269514722


def _latency(p95: float) -> Latency:
    return Latency(median=p95 / math.exp(Z95 * SIGMA), sigma=SIGMA)


def _verdict(p95: float, scale: float, seed: int, quantile: float = 0.95) -> tuple[Verdict, str]:
    scenario = Scenario(
        rps=200.0, canary_share=0.2, latency=_latency(p95), buckets=DEFAULT_BUCKETS, latency_scale=scale
    )
    policy = {"metrics": {"latency": {"kind": "histogram", "quantile": quantile}}}
    result = next(m for m in analyzer.judge(simulate(scenario, seed), policy).metrics if m.name == "latency")
    return result.verdict, result.reason


P95S = [0.02, 0.035, 0.06, 0.11, 0.16, 0.3, 0.45, 0.7, 1.2, 2.0]


@pytest.mark.parametrize("p95", P95S)
def test_healthy_canary_passes_and_never_answers_resolution(p95):
    verdict, reason = _verdict(p95, 1.0, seed=11)
    assert "resolution" not in reason
    assert verdict is Verdict.PASS, reason


@pytest.mark.parametrize("p95", P95S)
def test_p95_plus_50_percent_fails(p95):
    verdict, reason = _verdict(p95, 1.5, seed=12)
    assert verdict is Verdict.FAIL, reason


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_p99_policies_work_the_same_way(scale):
    verdict, reason = _verdict(0.3, scale, seed=13, quantile=0.99)
    assert verdict is (Verdict.PASS if scale == 1.0 else Verdict.FAIL), reason


def test_a_stable_above_the_default_p95_slo_is_service_wide_not_the_canarys_fault():
    """Runbook SLO 250 ms, both arms at p95 430 ms: inconclusive (service-wide), never a fail."""
    scenario = Scenario(rps=200.0, canary_share=0.2, latency=_latency(0.43), buckets=DEFAULT_BUCKETS)
    result = next(m for m in analyzer.judge(simulate(scenario, 14)).metrics if m.name == "latency")
    assert result.verdict is Verdict.INCONCLUSIVE and "service-wide SLO breach" in result.reason
