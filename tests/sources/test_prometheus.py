"""The Prometheus source against a real server backfilled by promtool: counts come back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.config import load_query_profile
from analyzer.errors import SourceUnavailableError
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import Target
from tests.conftest import STEP, STEPS


def _target(backfilled, namespace: str, **changes: str) -> Target:
    args = backfilled.args(namespace, **changes)
    del args["profile"]
    return Target(**args)


def test_fetch_returns_the_simulated_counts_step_for_step(backfilled):
    source = PrometheusSource(backfilled.url)
    profile = load_query_profile("http")
    window = Window(start=backfilled.start, end=backfilled.start + STEPS * STEP, step=STEP)
    fetched = source.fetch(profile, _target(backfilled, "errors"), window)
    expected = backfilled.deployments["errors"].measurement
    got_errors, want_errors = fetched.measurement.metrics["error-rate"], expected.metrics["error-rate"]
    for arm in ("canary", "stable"):
        assert np.allclose(getattr(got_errors, arm).total, getattr(want_errors, arm).total, atol=1e-6)
        assert np.allclose(getattr(got_errors, arm).events, getattr(want_errors, arm).events, atol=1e-6)
    got_latency, want_latency = fetched.measurement.metrics["latency"], expected.metrics["latency"]
    assert got_latency.le == want_latency.le
    assert np.allclose(got_latency.canary, want_latency.canary, atol=1e-6)
    assert not fetched.empty_arms


def test_first_data_finds_the_canary_start_not_the_stable_one(backfilled):
    source = PrometheusSource(backfilled.url)
    profile = load_query_profile("http")
    until = backfilled.start + 40 * STEP
    first = source.first_data(profile, _target(backfilled, "healthy"), since=until - 6 * 3600, until=until)
    assert first == backfilled.start  # stable had data 5 steps earlier; the window starts with the canary


def test_unknown_hash_is_reported_as_an_empty_arm(backfilled):
    source = PrometheusSource(backfilled.url)
    window = Window(start=backfilled.start, end=backfilled.start + 10 * STEP, step=STEP)
    fetched = source.fetch(load_query_profile("http"), _target(backfilled, "healthy", stable="ffff0000"), window)
    assert fetched.empty_arms == {"error-rate": ["stable"], "latency": ["stable"]}
    assert sum(fetched.measurement.metrics["error-rate"].stable.total) == 0


def test_unreachable_prometheus_is_a_source_error_within_the_retry_budget():
    source = PrometheusSource("http://127.0.0.1:9", timeout_seconds=0.5, retries=1)
    window = Window(start=0, end=600, step=60)
    with pytest.raises(SourceUnavailableError, match="unreachable"):
        source.fetch(load_query_profile("http"), Target(namespace="a", rollout="b", canary="c", stable="d"), window)
    with pytest.raises(SourceUnavailableError):
        source.ping()
