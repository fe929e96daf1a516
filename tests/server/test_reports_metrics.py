"""Per-Rollout metrics read from the ledger: bounded labels, and series that go when the window's looks stop."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from analyzer.service.rollout_metrics import ROLLOUT_SERIES_SECONDS


def _samples(service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = service.client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _rollout(samples, name: str, namespace: str, **labels: str) -> float | None:
    key = (name, tuple(sorted({"namespace": namespace, "rollout": "checkout", **labels}.items())))
    return samples.get(key)


def test_each_rollout_exports_its_latest_verdict_score_and_evidence(service, backfilled):
    for scenario in ("errors", "healthy"):
        service.client.get("/api/v1/analysis", params=backfilled.args(scenario))
    samples = _samples(service)
    assert _rollout(samples, "canary_analyzer_rollout_verdict", "errors", verdict="fail") == 1.0
    assert _rollout(samples, "canary_analyzer_rollout_verdict", "errors", verdict="pass") == 0.0
    assert _rollout(samples, "canary_analyzer_rollout_score", "errors") == 0.0
    assert _rollout(samples, "canary_analyzer_rollout_evidence_ratio", "errors", metric="error-rate") >= 1.0
    assert _rollout(samples, "canary_analyzer_rollout_steps", "errors") == 20
    assert _rollout(samples, "canary_analyzer_rollout_analysis_seconds", "errors") == 20 * 60
    assert samples[("canary_analyzer_ledger_up", ())] == 1.0
    assert any(name == "canary_analyzer_build_info" for name, _ in samples)
    hashes = {backfilled.deployments[s].canary_hash for s in ("errors", "healthy")}
    exported = "".join(str(labels) for _, labels in samples)
    assert not any(h in exported for h in hashes), "pod-template hashes must not become labels"


def test_a_rollouts_series_go_once_its_looks_stop(service, backfilled):
    service.client.get("/api/v1/analysis", params=backfilled.args("errors"))
    assert _rollout(_samples(service), "canary_analyzer_rollout_verdict", "errors", verdict="fail") == 1.0
    service.clock.advance(ROLLOUT_SERIES_SECONDS + 1)
    text = service.client.get("/metrics").text
    assert not re.search(r'^canary_analyzer_rollout_\w+\{namespace="errors"', text, re.M)


def test_http_requests_are_counted_by_route_template(service, backfilled):
    made = service.client.get("/api/v1/analysis", params=backfilled.args("healthy")).json()
    link = urlsplit(made["report"])
    service.client.get(f"{link.path}?{link.query}")
    service.client.get("/no/such/path")
    samples = _samples(service)
    counted = {dict(labels)["route"] for name, labels in samples if name == "canary_analyzer_http_requests_total"}
    assert {"/api/v1/analysis", "/reports/{judgment_id}", "unmatched"} <= counted
    assert not any(made["id"] in route for route in counted)  # templates, never paths
