"""Measurements for report pages: one canary of each verdict, and one with a per-pod breakdown."""

from __future__ import annotations

import dataclasses

import pytest

from analyzer.judging import judge
from analyzer.model import Measurement, Policy
from analyzer.report.html import ReportContext, render_html
from analyzer.service.offline import Regression, demo_scenario
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate

CASES = {
    "fail": simulate(demo_scenario(Regression.ERRORS, 30), 7),  # errors x3 from minute 5
    "pass": simulate(demo_scenario(Regression.NONE, 30), 3),
    "inconclusive": simulate(dataclasses.replace(demo_scenario(Regression.NONE, 10), rps=2.0), 3),  # a trickle
}
PODS = Scenario(steps=20, rps=200.0, canary_share=0.2, latency=Latency(median=0.08, sigma=0.5), buckets=FINE_BUCKETS,
                canary_pods=2, stable_pods=6, latency_scale=1.5, onset_step=4)


@pytest.fixture(scope="session")
def with_pods() -> Measurement:
    """p95 x1.5 from step 4, on 2 canary pods beside 6 stable pods."""
    return simulate(PODS, 3)


@pytest.fixture(scope="session")
def pages() -> dict[str, str]:
    """The report page of each case, drawn once for every test that reads it."""
    policy = Policy()
    context = ReportContext(namespace="shop", rollout="checkout", canary="7d9c5b", stable="5f4d8a", profile="http")
    return {name: render_html(judge(m, policy), m, policy, context) for name, m in CASES.items()}
