"""GET/POST /api/v1/analysis on a real Prometheus: verdicts, the window start, and what is recorded."""

from __future__ import annotations

from tests.conftest import STEP


def test_error_regression_fails_with_evidence(service, backfilled):
    response = service.client.get("/api/v1/analysis", params=backfilled.args("errors"))
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "fail"
    error_rate = next(m for m in body["metrics"] if m["name"] == "error-rate")
    assert error_rate["verdict"] == "fail"
    assert error_rate["estimate"]["ratio"] > 2
    assert body["window"]["start"].startswith(_iso(backfilled.start))
    assert body["window"]["step_seconds"] == STEP
    assert body["steps"] == 20


def test_latency_regression_fails_on_latency(service, backfilled):
    body = service.client.get("/api/v1/analysis", params=backfilled.args("latency")).json()
    assert body["verdict"] == "fail"
    latency = next(m for m in body["metrics"] if m["name"] == "latency")
    assert latency["verdict"] == "fail"


def test_healthy_canary_never_fails_and_passes_by_the_end(service, backfilled):
    service.clock.now = backfilled.start + 30 * STEP + 5
    body = service.client.get("/api/v1/analysis", params=backfilled.args("healthy")).json()
    assert body["verdict"] == "pass", body["reasons"]


def test_post_takes_the_same_fields_as_json(service, backfilled):
    body = service.client.post("/api/v1/analysis", json=backfilled.args("errors")).json()
    assert body["verdict"] == "fail"


def test_canary_without_traffic_is_inconclusive_and_says_so(service, backfilled):
    body = service.client.get("/api/v1/analysis", params=backfilled.args("quiet")).json()
    assert body["verdict"] == "inconclusive"
    assert "no data yet" in body["reasons"][0]
    assert body["window"] is None


def test_unknown_stable_hash_is_a_clear_inconclusive_answer(service, backfilled):
    body = service.client.get("/api/v1/analysis", params=backfilled.args("healthy", stable="deadbeef")).json()
    assert body["verdict"] == "inconclusive"
    assert any("no series for the stable hash 'deadbeef'" in r for r in body["reasons"])


def test_window_start_is_recorded_and_survives_a_restart(service, backfilled, tmp_path):
    first = service.client.get("/api/v1/analysis", params=backfilled.args("healthy")).json()
    # A restart (new app, same database) a few looks later judges from the same start.
    from fastapi.testclient import TestClient

    from tests.support.service import make_app

    service.clock.advance(3 * STEP)
    app, _ = make_app(service.settings, service.clock)
    with TestClient(app) as client:
        later = client.get("/api/v1/analysis", params=backfilled.args("healthy")).json()
    assert later["window"]["start"] == first["window"]["start"]
    assert later["steps"] == first["steps"] + 3


def test_every_judgment_is_recorded_and_read_back(service, backfilled):
    made = service.client.get("/api/v1/analysis", params=backfilled.args("errors")).json()
    stored = service.client.get(f"/api/v1/judgments/{made['id']}").json()
    assert stored == made
    assert f"/reports/{made['id']}?expires=" in made["report"]  # a signed link to its report page
    service.client.get("/api/v1/analysis", params=backfilled.args("healthy"))
    listed = service.client.get("/api/v1/judgments", params={"namespace": "errors", "verdict": "fail"}).json()
    assert [item["id"] for item in listed["items"]] == [made["id"]]
    assert listed["items"][0]["input_digest"] == made["input_digest"]
    everything = service.client.get("/api/v1/judgments").json()["items"]
    assert len(everything) == 2
    assert service.client.get("/api/v1/judgments/" + "0" * 32).status_code == 404


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")
