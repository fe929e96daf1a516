"""Gauge series → gauge metrics: by pod, missing samples kept missing, and no verdict on missing arms.

End to end on a real Prometheus backfilled by promtool with the series cAdvisor and kube-state-metrics
export (``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``,
``kube_pod_container_status_restarts_total``) next to the http counters, judged with the built-in
``http-resources`` profile: a healthy canary, a canary whose pods use 1.5× the CPU, and one whose pod
restarts once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from analyzer.config import load_query_profile
from analyzer.judging import judge
from analyzer.model import GaugeMetric, Verdict
from analyzer.sources.assemble import STALE_STEPS, Series
from analyzer.sources.gauges import WHOLE_ARM, gauge_metric
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import Target
from tests.support.resources import STEP, STEPS, Pods, resources_prometheus

PROFILE = load_query_profile("http-resources")
TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")


def _series(pod: str | None, values: list[float | None]) -> Series:
    present = np.array([v is not None for v in values])
    return Series(labels={"pod": pod} if pod else {}, values=np.array([v or 0.0 for v in values]), present=present)


def _parts(canary: list[Series], stable: list[Series], metric: str = "cpu") -> dict:
    return {(metric, "value", "canary"): canary, (metric, "value", "stable"): stable}


def test_series_become_pods_with_missing_samples_kept_missing():
    notes: list[str] = []
    canary = [_series("checkout-c4a1e-a", [0.2, None, 0.3, 0.3]), _series("checkout-c4a1e-b", [0.1, 0.1, 0.1, 0.1])]
    stable = [_series("checkout-5b7d2-a", [0.2, 0.2, 0.2, 0.2])]
    data, doubts = gauge_metric("cpu", PROFILE, TARGET, _parts(canary, stable), 4, STALE_STEPS, notes)
    assert doubts == [] and notes == []
    metric = GaugeMetric.model_validate(data)
    assert metric.canary == {"checkout-c4a1e-a": [0.2, None, 0.3, 0.3], "checkout-c4a1e-b": [0.1] * 4}


def test_series_without_a_pod_name_are_summed_as_one_with_a_note():
    notes: list[str] = []
    parts = _parts([_series(None, [0.2, 0.2]), _series(None, [0.1, None])], [_series("s-1", [0.3, 0.3])])
    data, _ = gauge_metric("cpu", PROFILE, TARGET, parts, 2, STALE_STEPS, notes)
    assert data is not None and data["canary"] == {WHOLE_ARM: [pytest.approx(0.3), 0.2]}
    assert notes == ["cpu: a canary series has no usable pod name; such series are summed as one"]


def test_a_missing_or_stale_arm_cannot_be_judged_but_a_threshold_needs_no_stable():
    quiet = [_series("c-1", [0.0] * 10)]
    _, doubts = gauge_metric("cpu", PROFILE, TARGET, _parts(quiet, []), 10, STALE_STEPS, [])
    assert doubts == [
        "no series for the stable hash '5b7d2' in namespace 'shop' (profile http-resources); check the hash and the"
        " metric's selector"
    ]
    _, doubts = gauge_metric("restarts", PROFILE, TARGET, _parts(quiet, [], "restarts"), 10, STALE_STEPS, [])
    assert doubts == []  # restarts is a canary-only threshold in this profile
    gone = [_series("c-1", [0.1] * 5 + [None] * 5)]
    _, doubts = gauge_metric("restarts", PROFILE, TARGET, _parts(gone, [], "restarts"), 10, STALE_STEPS, [])
    assert doubts == [
        "the canary arm (hash 'c4a1e'): its restarts data ends 5 steps before the window's end (stale: pods gone,"
        " scraping stopped or lagging)"
    ]


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Pods]]]:
    with resources_prometheus(tmp_path_factory.mktemp("prometheus-gauges")) as served:
        yield served


def _fetch(url: str, run: Pods):
    d = run.deployment
    source = PrometheusSource(url)
    try:
        target = Target(namespace=d.namespace, rollout="checkout", canary=d.canary_hash, stable=d.stable_hash)
        return source.fetch(PROFILE, target, Window(start=d.start, end=d.start + STEPS * STEP, step=STEP))
    finally:
        source.close()


def test_prometheus_returns_each_pods_cpu_memory_and_restarts(resources):
    url, runs = resources
    run = runs["restart"]
    fetched = _fetch(url, run)
    assert fetched.unavailable == {}
    cpu, memory, restarts = (fetched.measurement.metrics[name] for name in ("cpu", "memory", "restarts"))
    assert isinstance(cpu, GaugeMetric) and isinstance(memory, GaugeMetric) and isinstance(restarts, GaugeMetric)
    for arm in ("canary", "stable"):
        pods = run.deployment.pod_names(arm)
        assert sorted(getattr(cpu, arm)) == pods  # the container="" series is not a pod of its own
        for pod in pods:
            assert np.allclose(getattr(cpu, arm)[pod], run.cpu_per_step(pod), rtol=1e-6)
            assert getattr(memory, arm)[pod] == [run.memory[pod]] * STEPS
    restarted = run.deployment.pod_names("canary")[0]
    assert [step for step, v in enumerate(restarts.canary[restarted]) if v] == [12]


def test_end_to_end_a_healthy_canary_passes_on_its_resources(resources):
    url, runs = resources
    fetched = _fetch(url, runs["healthy"])
    judgment = judge(fetched.measurement, PROFILE.policy, unavailable=fetched.unavailable)
    verdicts = {m.name: m.verdict for m in judgment.metrics}
    assert verdicts["cpu"] is verdicts["memory"] is verdicts["restarts"] is Verdict.PASS, judgment.reasons


def test_end_to_end_one_and_a_half_times_the_cpu_on_two_canary_pods_fails(resources):
    url, runs = resources
    fetched = _fetch(url, runs["cpu"])
    judgment = judge(fetched.measurement, PROFILE.policy, unavailable=fetched.unavailable)
    cpu = next(m for m in judgment.metrics if m.name == "cpu")
    assert judgment.verdict is Verdict.FAIL and cpu.verdict is Verdict.FAIL, judgment.reasons
    assert cpu.estimate.ratio == pytest.approx(1.5, rel=0.01)
    assert "2 canary and 5 stable pods" in cpu.reason


def test_end_to_end_a_canary_pod_that_restarts_fails_at_that_step(resources):
    url, runs = resources
    fetched = _fetch(url, runs["restart"])
    judgment = judge(fetched.measurement, PROFILE.policy, unavailable=fetched.unavailable)
    restarts = next(m for m in judgment.metrics if m.name == "restarts")
    assert judgment.verdict is Verdict.FAIL and restarts.verdict is Verdict.FAIL
    assert restarts.fail_step == 12
    before = judge(fetched.measurement.head(12), PROFILE.policy)
    assert next(m for m in before.metrics if m.name == "restarts").verdict is Verdict.PASS
