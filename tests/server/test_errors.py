"""Errors are typed: a broken Prometheus or database is a 503 problem on every route; anything else a traced 500."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import settings_for
from tests.support.faults import fault_server
from tests.support.service import Clock, make_app

ARGS = {"namespace": "shop", "rollout": "checkout", "canary": "c4a1e", "stable": "5b7d2"}


def _count(client: TestClient, kind: str) -> float:
    wanted = f'canary_analyzer_source_errors_total{{kind="{kind}",profile="http"}}'
    line = next((ln for ln in client.get("/metrics").text.splitlines() if ln.startswith(wanted)), None)
    return float(line.split()[-1]) if line else 0.0


def _assert_503(response) -> dict:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"
    return response.json()


@pytest.mark.parametrize("body", ['{}', '{"status": "success", "data": null}',
                                  '{"status": "success", "data": {"resultType": "matrix", "result": {}}}'])
def test_a_malformed_answer_from_prometheus_is_a_counted_503(tmp_path, body):
    with fault_server() as prometheus:
        prometheus.answer(200, body)
        app, _ = make_app(settings_for(prometheus.url, tmp_path), Clock(1_800_000_000))
        with TestClient(app) as client:
            before = _count(client, "malformed")
            problem = _assert_503(client.get("/api/v1/analysis", params=ARGS))
            assert problem["title"] == "Metrics source unavailable"
            assert "malformed answer" in problem["detail"]
            assert _count(client, "malformed") == before + 1
            assert client.get("/api/v1/judgments").json()["items"] == []


def test_a_dripping_prometheus_gets_a_503_inside_the_look_deadline(tmp_path):
    with fault_server() as prometheus:
        prometheus.answer(200, '{"status": "success", "data": {"resultType": "matrix", "result": []}}')
        prometheus.drip(0.2, headers_too=True)
        settings = settings_for(prometheus.url, tmp_path, look_deadline_seconds=1.5, prometheus_timeout_seconds=0.5)
        app, _ = make_app(settings, Clock(1_800_000_000))
        with TestClient(app) as client:
            started = time.monotonic()
            problem = _assert_503(client.get("/api/v1/analysis", params=ARGS))
            assert time.monotonic() - started < 2.5
            assert "within the look's deadline of 1.5 s" in problem["detail"]
            assert _count(client, "timeout") >= 1


def test_database_errors_on_the_promotion_api_are_503_with_retry_after(tmp_path):
    from datetime import UTC, datetime

    from analyzer.store.tokens import create_token

    settings = settings_for("http://127.0.0.1:9", tmp_path)
    app, analyzer = make_app(settings, Clock(1_800_000_000))
    token = create_token(analyzer.database, "operator-1", "operator", datetime.now(UTC))
    db_file = tmp_path / "ledger.db"
    with TestClient(app) as client:
        assert client.get("/api/v1/quarantine/records").status_code == 200
        analyzer.database.engine.dispose()
        db_file.rename(tmp_path / "away.db")
        db_file.mkdir()  # the path is now a directory: SQLite cannot open it
        try:
            for response in (
                client.get("/api/v1/quarantine/records"),
                client.get("/api/v1/audit/verify"),
                client.post("/api/v1/candidates", headers={"Authorization": f"Bearer {token}"},
                            json={"artifacts": [{"name": "checkout", "image": "r/c@sha256:" + "a" * 64}]}),
            ):
                problem = _assert_503(response)
                assert problem["title"] == "Database unavailable"
                assert "OperationalError" in problem["detail"]
        finally:
            db_file.rmdir()
            (tmp_path / "away.db").rename(db_file)


def test_an_unexpected_error_is_a_500_with_its_request_id_in_the_answer_and_the_log(tmp_path, capsys):
    from analyzer.server import logs

    app, _ = make_app(settings_for("http://127.0.0.1:9", tmp_path), Clock(1_800_000_000))

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    logs.configure("info")
    try:
        with TestClient(app) as client:
            response = client.get("/broken", headers={"X-Request-ID": "req-500"})
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    finally:
        logging.getLogger("canary_analyzer").handlers = []
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "RuntimeError" in response.json()["detail"] and "req-500" in response.json()["detail"]
    error = next(line for line in lines if line["message"] == "unhandled error")
    assert error["request_id"] == "req-500" and "RuntimeError: a bug" in error["exception"]
    access = next(line for line in lines if line["message"] == "request")
    assert access["request_id"] == "req-500" and access["status"] == 500
