"""The promotion API over HTTP: runbook paths, roles, refusals that write nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from analyzer.store.ledger import audit_events
from analyzer.store.tokens import create_token
from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app

IMAGE = "registry.example.com/shop/checkout@sha256:" + "a" * 64


@pytest.fixture
def api(tmp_path, database_url):
    settings = settings_for("http://127.0.0.1:9", tmp_path, database_url=database_url)
    app, analyzer = make_app(settings, Clock(1_800_000_000))
    now = datetime.now(UTC)
    tokens = {role: create_token(analyzer.database, f"{role}-1", role, now) for role in ("viewer", "operator", "admin")}
    tokens["operator2"] = create_token(analyzer.database, "operator-2", "operator", now)
    with TestClient(app) as client:
        yield client, tokens, analyzer


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_runbook_paths_walk(api):
    client, tokens, _ = api
    op = _auth(tokens["operator"])
    created = client.post("/api/v1/candidates", json={"artifacts": [{"name": "checkout", "image": IMAGE}],
                                                      "alias": "v1.4.2"}, headers=op)
    assert created.status_code == 201
    cid = created.json()["id"]
    attempt = client.post(f"/api/v1/evaluation/promote/{cid}", headers={**op, "Idempotency-Key": "run-7"})
    assert attempt.status_code == 200 and attempt.json()["to_stage"] == "V1" and attempt.json()["state"] == "running"
    again = client.post(f"/api/v1/evaluation/promote/{cid}", headers={**op, "Idempotency-Key": "run-7"})
    assert again.json()["id"] == attempt.json()["id"]
    gate = client.post(f"/api/v1/attempts/{attempt.json()['id']}/evaluate", headers=op).json()
    assert gate["verdict"] == "inconclusive"  # no canary judgment yet
    quarantined = client.post(f"/api/v1/evaluation/quarantine/{cid}", headers=op,
                              json={"reason": "CVE-2026-1234 in base image", "reason_code": "security",
                                    "impact_analysis": {"users": "EU checkout"}})
    assert quarantined.status_code == 200 and quarantined.json()["impact"]["reported"] == {"users": "EU checkout"}
    records = client.get("/api/v1/quarantine/records").json()["items"]
    assert [r["candidate_id"] for r in records] == [cid]
    stats = client.get("/api/v1/quarantine/statistics").json()
    assert stats["total"] == 1 and stats["by_reason"] == {"security": 1}
    refused = client.post(f"/api/v1/evaluation/promote/{cid}", headers=op)
    assert refused.status_code == 409 and "quarantined" in refused.json()["detail"]
    assert client.get("/api/v1/audit/verify").json()["ok"] is True
    slo = client.get("/api/v1/health/slo").json()["stages"]
    assert [s["stage"] for s in slo] == ["V1", "V3", "V2"] and all(s["status"] == "unknown" for s in slo)


def _candidate(client, headers) -> str:
    created = client.post("/api/v1/candidates", json={"artifacts": [{"name": "c", "image": IMAGE}]}, headers=headers)
    return str(created.json()["id"])


def _writes(analyzer) -> int:
    with analyzer.database.session() as s:
        return len(audit_events(s))


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-a-token"}, 401), ("viewer", 403)],
)
def test_mutations_refuse_missing_wrong_and_weak_tokens_and_write_nothing(api, headers, status):
    client, tokens, analyzer = api
    if headers == "viewer":
        headers = _auth(tokens["viewer"])
    before = _writes(analyzer)
    body = {"artifacts": [{"name": "checkout", "image": IMAGE}]}
    for method, path, json_body in (
        ("post", "/api/v1/candidates", body),
        ("post", "/api/v1/evaluation/promote/abc", None),
        ("post", "/api/v1/evaluation/quarantine/abc", {"reason": "because of reasons"}),
        ("post", "/api/v1/attempts/abc/evaluate", None),
        ("post", "/api/v1/attempts/abc/approvals", {"comment": "lgtm"}),
    ):
        response = getattr(client, method)(path, json=json_body, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert _writes(analyzer) == before


def test_forced_promotion_needs_an_admin_token_and_a_second_person(api):
    client, tokens, _ = api
    op, admin = _auth(tokens["operator"]), _auth(tokens["admin"])
    cid = _candidate(client, op)
    weak = client.post(f"/api/v1/evaluation/promote/{cid}?force=true", headers=op, json={"to_stage": "V2"})
    assert weak.status_code == 403
    no_second = client.post(f"/api/v1/evaluation/promote/{cid}?force=true", headers=admin,
                            json={"to_stage": "V2", "justification": "sev1 outage 4711 needs this now"})
    assert no_second.status_code == 409 and "second approver" in no_second.json()["detail"]
    forced = client.post(f"/api/v1/evaluation/promote/{cid}?force=true", headers=admin,
                         json={"to_stage": "V2", "justification": "sev1 outage 4711 needs this now",
                               "second_approver": "token:operator-2"})
    assert forced.status_code == 200 and forced.json()["kind"] == "forced"
    audit = client.get("/api/v1/audit", params={"candidate": cid}).json()["items"]
    requested = next(e for e in audit if e["action"] == "promotion.requested")
    assert requested["actor"] == "token:admin-1" and requested["data"]["forced"] is True


def test_approvals_and_junit_evidence_through_the_api(api):
    client, tokens, _ = api
    op, op2 = _auth(tokens["operator"]), _auth(tokens["operator2"])
    cid = _candidate(client, op)
    attempt = client.post(f"/api/v1/evaluation/promote/{cid}", headers=op).json()["id"]
    junit = '<testsuite name="neg"><testcase classname="a" name="b"><failure/></testcase></testsuite>'
    added = client.post(f"/api/v1/attempts/{attempt}/evidence", headers=op, json={"kind": "junit", "junit_xml": junit})
    assert added.status_code == 201
    bad = client.post(f"/api/v1/attempts/{attempt}/evidence", headers=op, json={"kind": "junit", "junit_xml": "<x"})
    assert bad.status_code == 400 and "not well-formed" in bad.json()["detail"]
    assert client.post(f"/api/v1/attempts/{attempt}/approvals", headers=op2, json={"comment": "ok"}).status_code == 201
    shown = client.get(f"/api/v1/attempts/{attempt}").json()
    assert {e["kind"] for e in shown["evidence"]} == {"junit", "approval"}
    assert client.get("/api/v1/candidates/nope").status_code == 404
