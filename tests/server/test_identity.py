"""Issue 13 over HTTP: nothing open by default, one identity model with namespace scopes, bounded inputs.

Each attack is answered with the right status, as problem+json, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from analyzer.store.ledger import audit_events
from analyzer.store.tables import JudgmentRow
from analyzer.store.tokens import create_token
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app

STATIC = "argo-static-token"


@pytest.fixture
def closed(backfilled, tmp_path) -> Iterator[tuple[TestClient, dict[str, str], object]]:
    """The service with authentication (the default): a static Argo token and ledger tokens, one scoped."""
    settings = settings_for(backfilled.url, tmp_path, api_tokens=[STATIC])
    app, analyzer = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
    now = datetime.now(UTC)
    tokens = {
        "viewer": create_token(analyzer.database, "viewer-1", "viewer", now),
        "operator": create_token(analyzer.database, "operator-1", "operator", now),
        "healthy-team": create_token(analyzer.database, "healthy-team", "analysis", now, ["healthy"]),
        "static": STATIC,
    }
    with TestClient(app) as client:
        yield client, tokens, analyzer


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _judgments(analyzer) -> int:
    with analyzer.database.session() as s:
        return s.query(JudgmentRow).count()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


@pytest.mark.parametrize("path", ["/api/v1/judgments", "/api/v1/audit", "/api/v1/audit/verify", "/api/v1/stages",
                                  "/api/v1/quarantine/records", "/api/v1/quarantine/statistics",
                                  "/api/v1/health/slo", f"/api/v1/judgments/{'0' * 32}"])
def test_no_read_is_anonymous(closed, path):
    client, _, _ = closed
    _problem(client.get(path), 401)
    _problem(client.get(path, headers=_auth("guessed")), 401)


def test_an_anonymous_look_is_refused_and_records_nothing(closed, backfilled):
    client, tokens, analyzer = closed
    _problem(client.get("/api/v1/analysis", params=backfilled.args("healthy", profile="http")), 401)
    _problem(client.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=_auth(tokens["viewer"])), 403)
    assert _judgments(analyzer) == 0


def test_static_and_ledger_tokens_are_one_identity_model(closed, backfilled):
    client, tokens, _ = closed
    looked = client.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=_auth(tokens["static"]))
    assert looked.status_code == 200
    # The static (Argo) token reads judgments; a ledger viewer token does too; neither may write promotions.
    for token in (tokens["static"], tokens["viewer"]):
        assert client.get("/api/v1/judgments", headers=_auth(token)).json()["items"]
    _problem(client.post("/api/v1/candidates", headers=_auth(tokens["static"]), json={"artifacts": []}), 403)
    assert client.get("/api/v1/stages", headers=_auth(tokens["static"])).status_code == 200


def test_a_scoped_token_judges_and_reads_only_its_namespaces(closed, backfilled):
    client, tokens, analyzer = closed
    team, static = _auth(tokens["healthy-team"]), _auth(tokens["static"])
    other = client.get("/api/v1/analysis", params=backfilled.args("errors"), headers=static).json()["id"]
    before = _judgments(analyzer)
    _problem(client.get("/api/v1/analysis", params=backfilled.args("errors"), headers=team), 403)
    _problem(client.post("/api/v1/analysis", json=backfilled.args("errors"), headers=team), 403)
    assert _judgments(analyzer) == before
    own = client.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=team)
    assert own.status_code == 200
    _problem(client.get(f"/api/v1/judgments/{other}", headers=team), 404)  # another team's: not even there
    assert client.get(f"/api/v1/judgments/{own.json()['id']}", headers=team).status_code == 200
    _problem(client.get("/api/v1/judgments", headers=team), 403)
    _problem(client.get("/api/v1/judgments", params={"namespace": "errors"}, headers=team), 403)
    listed = client.get("/api/v1/judgments", params={"namespace": "healthy"}, headers=team).json()["items"]
    assert {j["namespace"] for j in listed} == {"healthy"}
    _problem(client.get("/api/v1/audit", headers=team), 403)  # promotion spans namespaces: unscoped tokens only


def test_a_huge_body_is_refused_before_parsing_and_before_the_token_check(closed, backfilled):
    client, _, analyzer = closed
    huge = b'{"artifacts": [' + b'{"name": "a", "image": "x"},' * 200_000 + b"]}"  # 5.6 MB, no token
    body = _problem(client.post("/api/v1/candidates", content=huge, headers={"Content-Type": "application/json"}), 413)
    assert "larger than 1000000 bytes" in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b" " * 100_000

    _problem(client.post("/api/v1/analysis", content=chunks(), headers={"Content-Type": "application/json"}), 413)
    with analyzer.database.session() as s:
        assert list(audit_events(s)) == []


def test_repeated_query_parameters_are_refused_by_name(closed, backfilled):
    client, tokens, analyzer = closed
    query = "&".join(f"{k}={v}" for k, v in backfilled.args("healthy").items()) + "&namespace=errors"
    body = _problem(client.get(f"/api/v1/analysis?{query}", headers=_auth(tokens["static"])), 400)
    assert body["errors"] == [{"field": "namespace", "message": "given more than once"}]
    assert _judgments(analyzer) == 0


@pytest.mark.parametrize("path", ["/api/v1/judgments", "/api/v1/quarantine/records"])
def test_offsets_are_bounded(closed, path):
    client, tokens, _ = closed
    answer = client.get(path, params={"offset": "9223372036854775808"}, headers=_auth(tokens["operator"]))
    assert "offset" in _problem(answer, 422)["detail"]


def test_candidate_prefixes_are_not_patterns_and_audit_reads_page(closed):
    client, tokens, _ = closed
    op = _auth(tokens["operator"])
    ids = []
    for i in range(3):
        created = client.post("/api/v1/candidates", headers=op,
                              json={"artifacts": [{"name": "c", "image": f"r.example/x@sha256:{i:064x}"}]})
        ids.append(created.json()["id"])
    for pattern in ("%%%%%%%%", "________"):
        _problem(client.get(f"/api/v1/candidates/{pattern}", headers=op), 404)
        assert client.get("/api/v1/audit", params={"candidate": pattern}, headers=op).json()["items"] == []
    newest = client.get("/api/v1/audit", params={"limit": 2}, headers=op).json()["items"]
    assert [e["seq"] for e in newest] == [2, 3]
    older = client.get("/api/v1/audit", params={"limit": 2, "before": 2}, headers=op).json()["items"]
    assert [e["seq"] for e in older] == [1]
    mine = client.get("/api/v1/audit", params={"candidate": ids[1][:10]}, headers=op).json()["items"]
    assert [e["candidate_id"] for e in mine] == [ids[1]]


def test_no_answer_echoes_the_credentials_of_the_prometheus_url(tmp_path):
    settings = settings_for("http://scraper:s3cret-pass@127.0.0.1:9", tmp_path, api_tokens=[STATIC])
    app, _ = make_app(settings, Clock(1_800_000_000))
    args = {"namespace": "shop", "rollout": "checkout", "canary": "abc123", "stable": "def456"}
    with TestClient(app) as client:
        ready = client.get("/readyz")
        looked = client.get("/api/v1/analysis", params=args, headers=_auth(STATIC))
    assert ready.status_code == 200 and ready.json()["status"] == "degraded" and looked.status_code == 503
    for answer in (ready, looked):
        assert "s3cret-pass" not in answer.text and "scraper" not in answer.text


def test_readyz_says_whether_tokens_are_required(closed, tmp_path, backfilled):
    client, _, _ = closed
    assert client.get("/readyz").json()["auth"] == "tokens"
    (tmp_path / "open").mkdir()
    app, _ = make_app(settings_for(backfilled.url, tmp_path / "open"), Clock(1_800_000_000))  # insecure, as tests
    with TestClient(app) as open_client:
        assert open_client.get("/readyz").json()["auth"] == "insecure-no-auth"


def test_a_body_full_of_errors_gets_a_bounded_answer(closed):
    client, tokens, _ = closed
    artifacts = [{"name": "BAD NAME", "image": "x", "extra": 1}] * 40  # 80 errors
    source = {f"k{i}": i for i in range(5000)}  # 5000 more: not strings
    answer = client.post("/api/v1/candidates", json={"artifacts": artifacts, "source": source},
                         headers=_auth(tokens["operator"]))
    body = _problem(answer, 422)
    assert len(body["errors"]) == 20 and "more" in body["detail"] and len(answer.content) < 10_000
