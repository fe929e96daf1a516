"""The promotion API over HTTP: runbook paths, roles, refusals that write nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from analyzer.store.ledger import audit_events
from analyzer.store.tokens import create_token
from tests.server.conftest import settings_for
from tests.support.ids import burst_ids, common_prefix
from tests.support.service import Clock, make_app

IMAGE = "registry.example.com/shop/checkout@sha256:" + "a" * 64


@pytest.fixture
def api(tmp_path, database_url):
    settings = settings_for("http://127.0.0.1:9", tmp_path, database_url=database_url, insecure_no_auth=False)
    app, analyzer = make_app(settings, Clock(1_800_000_000))
    now = datetime.now(UTC)
    tokens = {role: create_token(analyzer.database, f"{role}-1", role, now)
              for role in ("viewer", "operator", "approver", "admin")}
    tokens["operator2"] = create_token(analyzer.database, "operator-2", "operator", now)
    tokens["admin2"] = create_token(analyzer.database, "admin-2", "admin", now)
    tokens["scoped"] = create_token(analyzer.database, "shop-approver", "approver", now, ["shop"])
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
    assert client.get("/api/v1/quarantine/records").status_code == 401  # nothing is open
    records = client.get("/api/v1/quarantine/records", headers=op).json()["items"]
    assert [r["candidate_id"] for r in records] == [cid]
    stats = client.get("/api/v1/quarantine/statistics", headers=op).json()
    assert stats["total"] == 1 and stats["by_reason"] == {"security": 1}
    refused = client.post(f"/api/v1/evaluation/promote/{cid}", headers=op)
    assert refused.status_code == 409 and "quarantined" in refused.json()["detail"]
    assert client.get("/api/v1/audit/verify", headers=op).json()["ok"] is True
    slo = client.get("/api/v1/health/slo", headers=op).json()["stages"]
    assert [s["stage"] for s in slo] == ["V1", "V3", "V2"] and all(s["status"] == "unknown" for s in slo)


def _candidate(client, headers) -> str:
    created = client.post("/api/v1/candidates", json={"artifacts": [{"name": "c", "image": IMAGE}]}, headers=headers)
    return str(created.json()["id"])


def _writes(analyzer) -> int:
    with analyzer.database.session() as s:
        return len(list(audit_events(s)))


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
    client, tokens, analyzer = api
    op, admin = _auth(tokens["operator"]), _auth(tokens["admin"])
    cid = _candidate(client, op)
    justified = {"to_stage": "V2", "justification": "sev1 outage 4711 needs this now"}
    weak = client.post(f"/api/v1/evaluation/promote/{cid}?force=true", headers=op, json={"to_stage": "V2"})
    assert weak.status_code == 403
    # A free-text second approver is no longer a field: naming "nobody-at-all" is refused and writes nothing.
    before = _writes(analyzer)
    named = client.post(f"/api/v1/evaluation/promote/{cid}?force=true", headers=admin,
                        json={**justified, "second_approver": "nobody-at-all"})
    assert named.status_code == 422 and _writes(analyzer) == before
    forced = client.post(f"/api/v1/evaluation/promote/{cid}?force=true", headers=admin, json=justified)
    assert forced.status_code == 200 and forced.json()["kind"] == "forced"
    attempt = forced.json()["id"]
    assert forced.json()["state"] == "awaiting_second"
    assert client.get(f"/api/v1/candidates/{cid}", headers=op).json()["state"] == "registered"  # nothing ran
    confirm = f"/api/v1/attempts/{attempt}/confirm"
    before = _writes(analyzer)
    for headers, status in (({}, 401), (_auth("not-a-token"), 401), (op, 403), (_auth(tokens["scoped"]), 403),
                            (admin, 403)):  # the requester confirming themselves is one person
        refused = client.post(confirm, headers=headers)
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert "different identity" in client.post(confirm, headers=admin).json()["detail"]
    assert _writes(analyzer) == before
    confirmed = client.post(confirm, headers=_auth(tokens["approver"]))
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "running"
    assert confirmed.json()["second_approver"] == "token:approver-1"
    assert client.post(confirm, headers=_auth(tokens["admin2"])).status_code == 409  # once
    audit = client.get("/api/v1/audit", params={"candidate": cid}, headers=op).json()["items"]
    requested = next(e for e in audit if e["action"] == "promotion.requested")
    assert requested["actor"] == "token:admin-1" and requested["data"]["forced"] is True
    confirmation = next(e for e in audit if e["action"] == "promotion.confirmed")
    assert confirmation["actor"] == "token:approver-1"
    assert confirmation["data"] == {"requested_by": "token:admin-1", "confirmed_by": "token:approver-1"}


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
    shown = client.get(f"/api/v1/attempts/{attempt}", headers=op).json()
    assert {e["kind"] for e in shown["evidence"]} == {"junit", "approval"}
    assert client.get("/api/v1/candidates/nope", headers=op).status_code == 404


def test_ids_in_paths_and_bodies_are_unique_prefixes(api, monkeypatch):
    """Issue 16: the API takes the prefixes the CLI takes; an ambiguous one is a 400 naming the matches."""
    client, tokens, analyzer = api
    op = _auth(tokens["operator"])
    burst_ids(monkeypatch)
    first = client.post(f"/api/v1/evaluation/promote/{_candidate(client, op)[:8]}", headers=op).json()
    other = {"artifacts": [{"name": "d", "image": IMAGE}]}
    cid = client.post("/api/v1/candidates", json=other, headers=op).json()["id"]
    second = client.post(f"/api/v1/evaluation/promote/{cid[:10]}", headers=op).json()
    assert (first["state"], second["state"]) == ("running", "queued")
    common = common_prefix([first["id"], second["id"]])
    before = _writes(analyzer)
    for method, path in (("get", f"/api/v1/attempts/{common}"), ("post", f"/api/v1/attempts/{common}/evaluate")):
        refused = getattr(client, method)(path, headers=op)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert first["id"] in refused.json()["detail"] and second["id"] in refused.json()["detail"]
    assert _writes(analyzer) == before
    gate = client.post(f"/api/v1/attempts/{first['id'][:20]}/evaluate", headers=op)
    assert gate.status_code == 200 and gate.json()["attempt_id"] == first["id"]
    assert gate.json()["inputs"] == [] and gate.json()["evaluated_at"]  # the whole evaluation record
    shown = client.get(f"/api/v1/attempts/{first['id'][:20]}", headers=op).json()
    assert [v["id"] for v in shown["evaluations"]] == [gate.json()["id"]]
    missing = client.post(f"/api/v1/attempts/{first['id'][:20]}/evidence", headers=op,
                          json={"kind": "judgment", "judgment_id": "0123abcd"})
    assert missing.status_code == 404 and "no judgment" in missing.json()["detail"]
    assert client.get(f"/api/v1/attempts/{first['id'][:7]}", headers=op).status_code == 404
