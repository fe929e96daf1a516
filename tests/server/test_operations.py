"""Health, readiness, metrics, auth, logs, OpenAPI, and a Prometheus that is down."""

from __future__ import annotations

import json
import logging
import time

from fastapi.testclient import TestClient

from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app


def test_healthz_readyz_and_openapi(service):
    assert service.client.get("/healthz").json() == {"status": "ok"}
    assert service.client.get("/readyz").json() == {"status": "ready", "prometheus": "ok", "database": "ok",
                                                   "auth": "insecure-no-auth"}  # as the test services run
    spec = service.client.get("/openapi.json").json()
    assert {"/api/v1/analysis", "/api/v1/judgments", "/api/v1/judgments/{judgment_id}"} <= set(spec["paths"])
    assert service.client.get("/docs").status_code == 200


def test_metrics_count_judgments_by_verdict_and_profile(service, backfilled):
    def count() -> float:
        text = service.client.get("/metrics").text
        wanted = 'canary_analyzer_judgments_total{profile="http",verdict="fail"}'
        line = next((ln for ln in text.splitlines() if ln.startswith(wanted)), None)
        return float(line.split()[-1]) if line else 0.0

    before = count()
    service.client.get("/api/v1/analysis", params=backfilled.args("errors"))
    text = service.client.get("/metrics").text
    assert count() == before + 1
    assert "canary_analyzer_judge_duration_seconds_bucket" in text
    assert 'canary_analyzer_query_duration_seconds_count{profile="http"}' in text


def test_prometheus_down_is_503_problem_within_argo_timeout(tmp_path):
    settings = settings_for("http://127.0.0.1:9", tmp_path, prometheus_timeout_seconds=1.0, prometheus_retries=2)
    app, _ = make_app(settings, Clock(1_800_000_000))
    with TestClient(app) as client:
        started = time.monotonic()
        args = {"namespace": "shop", "rollout": "checkout", "canary": "abc", "stable": "def"}
        response = client.get("/api/v1/analysis", params=args)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "unreachable" in response.json()["detail"]
        assert elapsed < 10
        ready = client.get("/readyz")  # shared by every replica: naming it, not leaving the Service
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert "Prometheus" in ready.json()["prometheus"] and ready.json()["database"] == "ok"
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/judgments").json()["items"] == []  # nothing recorded for a failed look


def test_database_down_judges_from_the_data_alone_and_nothing_is_lost(service, backfilled, tmp_path):
    made = service.client.get("/api/v1/analysis", params=backfilled.args("errors")).json()
    service.analyzer.database.engine.dispose()
    db_file = tmp_path / "ledger.db"
    db_file.rename(tmp_path / "away.db")
    (tmp_path / "ledger.db").mkdir()  # the path is now a directory: SQLite cannot open it
    try:
        response = service.client.get("/api/v1/analysis", params=backfilled.args("errors"))
        assert response.status_code == 200  # the window start is the canary's first data, as recorded
        body = response.json()
        assert body["reasons"][0].startswith("not recorded (the database is unavailable: OperationalError)")
        assert (body["verdict"], body["window"]) == (made["verdict"], made["window"])
        ready = service.client.get("/readyz")  # the looks are still judged: the replica stays in the Service
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["database"].startswith("the database is unavailable")
    finally:
        (tmp_path / "ledger.db").rmdir()
        (tmp_path / "away.db").rename(db_file)
    service.analyzer.database.engine.dispose()
    assert service.client.get(f"/api/v1/judgments/{made['id']}").json()["verdict"] == "fail"


def test_bearer_token_is_required_when_configured(backfilled, tmp_path):
    settings = settings_for(backfilled.url, tmp_path, api_tokens=["s3cret-token"])
    app, _ = make_app(settings, Clock(backfilled.start + 20 * 60))
    with TestClient(app) as client:
        args = backfilled.args("errors")
        missing = client.get("/api/v1/analysis", params=args)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.headers["content-type"].startswith("application/problem+json")
        wrong = client.get("/api/v1/analysis", params=args, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = client.get("/api/v1/analysis", params=args, headers={"Authorization": "Bearer s3cret-token"})
        assert right.status_code == 200
        assert client.get("/api/v1/judgments").status_code == 401
        assert client.get("/healthz").status_code == 200  # probes need no token


def test_logs_are_json_lines_with_the_request_id(service, backfilled, capsys):
    from analyzer.server import logs

    logs.configure("info")
    try:
        response = service.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["request_id"] == "abc-123"
        assert line["path"] == "/healthz" and line["status"] == 200
    finally:
        logging.getLogger("canary_analyzer").handlers = []
