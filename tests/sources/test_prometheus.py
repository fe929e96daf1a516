"""The Prometheus source against a real server backfilled by promtool: counts come back exactly, by pod."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.config import load_query_profile
from analyzer.errors import SourceUnavailableError
from analyzer.model import HistogramMetric, RatioMetric
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import Target
from tests.conftest import STEP, STEPS


def _target(backfilled, namespace: str, **changes: str) -> Target:
    args = backfilled.args(namespace, **changes)
    del args["profile"]
    return Target(**args)


def _fetch(backfilled, scenario: str, steps: int = STEPS, profile: str = "http", **changes: str):
    source = PrometheusSource(backfilled.url)
    window = Window(start=backfilled.start, end=backfilled.start + steps * STEP, step=STEP)
    try:
        return source.fetch(load_query_profile(profile), _target(backfilled, scenario, **changes), window)
    finally:
        source.close()


def test_fetch_returns_the_simulated_counts_step_for_step(backfilled):
    fetched = _fetch(backfilled, "errors")
    expected = backfilled.deployments["errors"].measurement
    got_errors, want_errors = fetched.measurement.metrics["error-rate"], expected.metrics["error-rate"]
    for arm in ("canary", "stable"):
        assert np.allclose(getattr(got_errors, arm).total, getattr(want_errors, arm).total, atol=1e-6)
        assert np.allclose(getattr(got_errors, arm).events, getattr(want_errors, arm).events, atol=1e-6)
    got_latency, want_latency = fetched.measurement.metrics["latency"], expected.metrics["latency"]
    assert got_latency.le == want_latency.le
    assert np.allclose(got_latency.canary, want_latency.canary, atol=1e-6)
    assert fetched.unavailable == {}


def test_counts_come_by_pod_and_sum_to_the_arms(backfilled):
    deployment = backfilled.deployments["errors"]
    fetched = _fetch(backfilled, "errors")
    errors = fetched.measurement.metrics["error-rate"]
    latency = fetched.measurement.metrics["latency"]
    assert isinstance(errors, RatioMetric) and isinstance(latency, HistogramMetric)
    assert errors.pods is not None and latency.pods is not None
    want = deployment.measurement.metrics["error-rate"]
    for arm in ("canary", "stable"):
        names = deployment.pod_names(arm)
        assert sorted(getattr(errors.pods, arm)) == names == sorted(getattr(latency.pods, arm))
        for name, share in zip(names, deployment.pod_shares[arm], strict=True):
            pod = getattr(errors.pods, arm)[name]
            assert len(pod.total) == STEPS
            assert np.allclose(pod.total, np.asarray(getattr(want, arm).total) * share, atol=1e-5)
            assert np.allclose(pod.events, np.asarray(getattr(want, arm).events) * share, atol=1e-5)
        pods_rows = np.sum(list(getattr(latency.pods, arm).values()), axis=0)
        assert np.allclose(pods_rows, getattr(latency, arm), atol=1e-9)
        pods_total = np.sum([p.total for p in getattr(errors.pods, arm).values()], axis=0)
        assert np.allclose(pods_total, getattr(errors, arm).total, atol=1e-9)


def test_profiles_without_a_pod_label_give_arm_totals_only(backfilled, tmp_path):
    from analyzer.sources.queries import QueryProfile

    plain = load_query_profile("http").model_dump(mode="json")
    plain["pod_label"] = None
    for queries in plain["metrics"].values():
        for key in ("total", "events", "buckets"):
            if key in queries:
                queries[key] = queries[key].replace("by (pod) ", "").replace("by (pod, le)", "by (le)")
    source = PrometheusSource(backfilled.url)
    window = Window(start=backfilled.start, end=backfilled.start + STEPS * STEP, step=STEP)
    fetched = source.fetch(QueryProfile.model_validate(plain), _target(backfilled, "errors"), window)
    by_pod = _fetch(backfilled, "errors").measurement.metrics["error-rate"]
    errors = fetched.measurement.metrics["error-rate"]
    assert errors.pods is None and fetched.measurement.metrics["latency"].pods is None
    assert np.allclose(errors.canary.total, by_pod.canary.total) and fetched.unavailable == {}


def test_first_data_finds_the_canary_start_not_the_stable_one(backfilled):
    source = PrometheusSource(backfilled.url)
    profile = load_query_profile("http")
    until = backfilled.start + 40 * STEP
    first = source.first_data(profile, _target(backfilled, "healthy"), since=until - 6 * 3600, until=until)
    assert first == backfilled.start  # stable had data 5 steps earlier; the window starts with the canary


def test_unknown_hash_makes_every_metric_unavailable_naming_the_hash(backfilled):
    fetched = _fetch(backfilled, "healthy", steps=10, stable="ffff0000")
    assert set(fetched.unavailable) == {"error-rate", "latency"}
    for reason in fetched.unavailable.values():
        assert "no series for the stable hash 'ffff0000' in namespace 'healthy'" in reason
    assert sum(fetched.measurement.metrics["error-rate"].stable.total) == 0


def test_data_that_ends_before_the_window_does_is_stale(backfilled):
    fetched = _fetch(backfilled, "healthy", steps=STEPS + 10)  # the data stops 10 steps before the window's end
    assert set(fetched.unavailable) == {"error-rate", "latency"}
    reason = fetched.unavailable["error-rate"]
    canary_hash = backfilled.deployments["healthy"].canary_hash
    assert f"the canary arm (hash {canary_hash!r}): its data ends 10 steps (600 s) before the window's end" in reason
    assert "the stable arm" in reason
    assert _fetch(backfilled, "healthy", steps=STEPS + 2).unavailable == {}  # two steps of lag are tolerated


def test_unreachable_prometheus_is_a_source_error_within_the_retry_budget():
    source = PrometheusSource("http://127.0.0.1:9", timeout_seconds=0.5, retries=1)
    window = Window(start=0, end=600, step=60)
    with pytest.raises(SourceUnavailableError, match="unreachable"):
        source.fetch(load_query_profile("http"), Target(namespace="a", rollout="b", canary="c", stable="d"), window)
    with pytest.raises(SourceUnavailableError):
        source.ping()


def test_a_profile_and_target_s_combined_query_is_rendered_once(monkeypatch):
    """The plan is kept per profile (by identity) and target; another target, or another profile object even
    with the same name, renders its own, and the kept plans are bounded."""
    import analyzer.sources.prometheus as prometheus
    from analyzer.sources.prometheus import combine
    from analyzer.sources.queries import ARMS, QueryProfile, queries_of

    rendered: list[Target] = []
    render = QueryProfile.render

    def counting(self, metric, query, arm, target):
        rendered.append(target)
        return render(self, metric, query, arm, target)

    monkeypatch.setattr(QueryProfile, "render", counting)
    source, profile = PrometheusSource("http://127.0.0.1:9"), load_query_profile("http")
    one, other = Target(namespace="a", rollout="r", canary="c1", stable="s1"), Target(namespace="b", rollout="r",
                                                                                        canary="c1", stable="s1")
    plan, text = source.plan(profile, one)
    parts = len(rendered)
    expected = [(m, q, arm) for m, queries in profile.metrics.items() for q in queries_of(queries) for arm in ARMS]
    assert plan == expected and text == combine([render(profile, m, q, arm, one) for m, q, arm in expected])
    assert source.plan(profile, one) == (plan, text) and len(rendered) == parts  # kept
    assert source.plan(profile, other)[1] != text and len(rendered) == 2 * parts
    source.plan(load_query_profile("http"), one)  # an equal profile, another object: rendered again
    assert len(rendered) == 3 * parts
    monkeypatch.setattr(prometheus, "MAX_PLANS", 3)
    source.plan(profile, Target(namespace="c", rollout="r", canary="c1", stable="s1"))  # past the bound: starts again
    assert len(source._plans) == 1
    source.close()
