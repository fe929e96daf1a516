"""The Argo web provider with the http-resources profile: gauge and threshold metrics through the whole look.

Real Prometheus with cAdvisor's and kube-state-metrics' series (tests/support/resources.py), the app
with a SQLite ledger, looks at the canaries' real times: what Argo gets back, what is recorded, and the
report page behind the link.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import Service, settings_for
from tests.support.resources import STEP, Pods, resources_prometheus
from tests.support.service import Clock, make_app


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Pods]]]:
    with resources_prometheus(tmp_path_factory.mktemp("prometheus-resources")) as served:
        yield served


@pytest.fixture
def service(resources, tmp_path) -> Iterator[Service]:
    url, runs = resources
    settings = settings_for(url, tmp_path)
    clock = Clock(runs["healthy"].deployment.start + 5)
    app, analyzer = make_app(settings, clock)
    with TestClient(app) as client:
        yield Service(client, clock, analyzer, settings)


def _look(service: Service, run: Pods, step: int) -> dict:
    d = run.deployment
    service.clock.now = d.start + step * STEP + 5
    args = {"profile": "http-resources", "namespace": d.namespace, "rollout": "checkout",
            "canary": d.canary_hash, "stable": d.stable_hash}
    response = service.client.get("/api/v1/analysis", params=args)
    assert response.status_code == 200, response.text
    return response.json()


def _metric(body: dict, name: str) -> dict:
    return next(m for m in body["metrics"] if m["name"] == name)


def test_argo_gets_a_fail_on_one_and_a_half_times_the_cpu(service, resources):
    _, runs = resources
    early = _look(service, runs["cpu"], 4)  # warm-up (3 steps) and not yet the first checkpoint
    assert _metric(early, "cpu")["verdict"] == "inconclusive"
    body = _look(service, runs["cpu"], 12)
    cpu = _metric(body, "cpu")
    assert body["verdict"] == "fail" and cpu["verdict"] == "fail" and cpu["kind"] == "gauge"
    assert {m["name"] for m in body["metrics"]} == {"error-rate", "latency", "cpu", "memory", "restarts"}
    page = service.client.get(body["report"])
    assert page.status_code == 200 and "values per step and pod" in page.text


def test_argo_gets_a_fail_when_a_canary_pod_restarts(service, resources):
    _, runs = resources
    before = _look(service, runs["restart"], 12)
    assert _metric(before, "restarts")["verdict"] == "pass"
    after = _look(service, runs["restart"], 14)
    restarts = _metric(after, "restarts")
    assert after["verdict"] == "fail" and restarts["verdict"] == "fail" and restarts["kind"] == "threshold"
    assert restarts["fail_step"] == 12
    items = service.client.get("/api/v1/judgments", params={"namespace": "restart"}).json()["items"]
    assert sorted(item["verdict"] for item in items) == sorted([before["verdict"], "fail"])  # both looks recorded
