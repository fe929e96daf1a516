"""No verdict on missing, partial or stale data: inconclusive with a reason that names it, and nothing else recorded.

Real Prometheus servers: the session's backfilled one (stale data, a partial-response warning added by a
proxy in front of it) and one whose canaries lost series (an arm's 5xx series, one pod's, both arms').
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import STEP, STEPS
from tests.server.conftest import Service, settings_for
from tests.support.faults import fault_server
from tests.support.service import Clock, make_app


@pytest.fixture
def on_dropped(dropped, tmp_path) -> Iterator[Service]:
    """The app over the Prometheus with lost series, its clock at the end of the canaries' data."""
    settings = settings_for(dropped.url, tmp_path)
    clock = Clock(dropped.start + STEPS * STEP + 5)
    app, analyzer = make_app(settings, clock)
    with TestClient(app) as client:
        yield Service(client, clock, analyzer, settings)


def _looks(service: Service, args: dict[str, str], clocks: list[float]) -> list[dict]:
    bodies = []
    for now in clocks:
        service.clock.now = now
        response = service.client.get("/api/v1/analysis", params=args)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    return bodies


def _metric(body: dict, name: str) -> dict:
    return next(m for m in body["metrics"] if m["name"] == name)


def _recorded_verdicts(service: Service, namespace: str) -> set[str]:
    items = service.client.get("/api/v1/judgments", params={"namespace": namespace}).json()["items"]
    return {item["verdict"] for item in items}


@pytest.mark.parametrize(
    ("scenario", "missing", "present"),
    [("lost-canary-5xx", "canary", "stable"), ("lost-stable-5xx", "stable", "canary")],
)
def test_an_events_series_missing_on_one_arm_is_never_judged(on_dropped, dropped, scenario, missing, present):
    """The canary's 5xx series gone (3x its errors would pass) or stable's (a healthy canary would fail)."""
    deployment = dropped.deployments[scenario]
    hashes = {"canary": deployment.canary_hash, "stable": deployment.stable_hash}
    clocks = [dropped.start + k * STEP + 5 for k in (10, 20, STEPS)]
    for body in _looks(on_dropped, dropped.args(scenario), clocks):
        assert body["verdict"] == "inconclusive"
        errors = _metric(body, "error-rate")
        assert errors["verdict"] == "inconclusive"
        assert f"the {missing} arm (hash {hashes[missing]!r}) has no events series while the {present} counted" in (
            errors["reason"]
        )
        assert any(r.startswith("error-rate: ") and "counter may be dropped" in r for r in body["reasons"])
    assert _recorded_verdicts(on_dropped, scenario) == {"inconclusive"}


def test_no_events_series_on_either_arm_is_zero_errors(on_dropped, dropped):
    body = _looks(on_dropped, dropped.args("no-5xx-series"), [dropped.start + STEPS * STEP + 5])[0]
    errors = _metric(body, "error-rate")
    assert "no events series" not in errors["reason"] and "no series" not in errors["reason"]
    assert errors["samples"]["canary_requests"] > 0
    assert errors["estimate"]["canary_rate"] == 0


def test_a_pod_without_an_events_series_has_no_errors_and_the_rest_is_judged(on_dropped, dropped):
    from analyzer.config import load_query_profile
    from analyzer.sources.prometheus import Window
    from analyzer.sources.queries import Target

    deployment = dropped.deployments["lazy-pod"]
    target = Target(namespace="lazy-pod", rollout="checkout", canary=deployment.canary_hash,
                    stable=deployment.stable_hash)
    window = Window(start=dropped.start, end=dropped.start + STEPS * STEP, step=STEP)
    fetched = on_dropped.analyzer.source.fetch(load_query_profile("http"), target, window)
    assert fetched.unavailable == {}
    pods = fetched.measurement.metrics["error-rate"].pods.canary
    quiet, busy = (pods[name] for name in deployment.pod_names("canary")[::-1])
    assert sum(quiet.events) == 0 < sum(quiet.total) and sum(busy.events) > 0
    assert sum(fetched.measurement.metrics["error-rate"].canary.events) == sum(busy.events)


def test_data_that_stopped_is_stale_not_judged(service, backfilled):
    """A failing canary whose data ended 15 steps ago: the window reaches now, the data does not."""
    service.clock.now = backfilled.start + (STEPS + 15) * STEP + 5
    body = service.client.get("/api/v1/analysis", params=backfilled.args("errors")).json()
    assert body["verdict"] == "inconclusive"
    for name in ("error-rate", "latency"):
        reason = _metric(body, name)["reason"]
        assert "its data ends 15 steps (900 s) before the window's end" in reason
    assert _recorded_verdicts(service, "errors") == {"inconclusive"}


def test_a_partial_response_warning_leaves_every_metric_inconclusive(backfilled, tmp_path):
    """A Thanos-style partial answer (a store did not answer) over data that would fail the canary."""
    warning = "No StoreAPIs matched for this query; partial response"

    def partial(answer: dict) -> dict:
        return {**answer, "warnings": [warning]}

    with fault_server(upstream=backfilled.url) as proxy:
        proxy.edit(partial)
        app, _ = make_app(settings_for(proxy.url, tmp_path), Clock(backfilled.start + 20 * STEP + 5))
        with TestClient(app) as client:
            body = client.get("/api/v1/analysis", params=backfilled.args("errors")).json()
            recorded = {i["verdict"] for i in client.get("/api/v1/judgments").json()["items"]}
    assert body["verdict"] == "inconclusive"
    for name in ("error-rate", "latency"):
        metric = _metric(body, name)
        assert metric["verdict"] == "inconclusive"
        assert f"Prometheus flagged its answer as partial or doubtful: {warning}" in metric["reason"]
    assert recorded == {"inconclusive"}


def test_the_same_hash_on_both_arms_is_a_400_naming_both(service, backfilled):
    args = backfilled.args("healthy")
    response = service.client.get("/api/v1/analysis", params={**args, "stable": args["canary"]})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["canary", "stable"]
    assert "compared with itself" in body["detail"]
    assert service.client.get("/api/v1/judgments").json()["items"] == []
