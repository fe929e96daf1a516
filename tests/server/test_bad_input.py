"""Bad requests get a 4xx problem+json that names the field; no query is ever built from them."""

from __future__ import annotations

import pytest

from analyzer.sources.prometheus import PrometheusSource

INJECTIONS = [
    'shop"}or vector(1)#',
    "shop\"} or on() vector(1) or {x=\"",
    "shop\\",
    "shop\n",
    "a,b",
    "shop|.*",
    "${namespace}",
    "UPPER",
    "-leading",
    "",
]


@pytest.fixture
def spy(service, monkeypatch):
    """Records every query the source would send."""
    sent: list[str] = []
    original = PrometheusSource._range

    def record(self, query, *args):
        sent.append(query)
        return original(self, query, *args)

    monkeypatch.setattr(PrometheusSource, "_range", record)
    return sent


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize("field", ["namespace", "rollout", "canary", "stable"])
@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_attempts_are_refused_before_any_query(service, backfilled, spy, field, value):
    args = backfilled.args("healthy", **{field: value})
    body = _problem(service.client.get("/api/v1/analysis", params=args), 422)
    assert body["errors"][0]["field"] == field
    assert field in body["detail"]
    assert spy == []


@pytest.mark.parametrize("field", ["namespace", "rollout", "canary", "stable"])
def test_missing_argument_is_named(service, backfilled, field):
    args = backfilled.args("healthy")
    del args[field]
    body = _problem(service.client.get("/api/v1/analysis", params=args), 422)
    assert body["errors"][0]["field"] == field


def test_huge_values_are_refused(service, backfilled, spy):
    for field, size in (("namespace", 64), ("rollout", 254), ("canary", 64)):
        args = backfilled.args("healthy", **{field: "a" * size})
        _problem(service.client.get("/api/v1/analysis", params=args), 422)
    _problem(service.client.get("/api/v1/analysis", params=backfilled.args("healthy", rollout="a" * 60_000)), 422)
    _problem(service.client.post("/api/v1/analysis", json=backfilled.args("healthy", stable="f" * 100_000)), 422)
    # Past the body limit the request is refused before it is parsed.
    _problem(service.client.post("/api/v1/analysis", json=backfilled.args("healthy", stable="f" * 1_000_000)), 413)
    assert spy == []


def test_unknown_profile_is_400_naming_the_known_ones(service, backfilled, spy):
    body = _problem(service.client.get("/api/v1/analysis", params=backfilled.args("healthy", profile="grpc")), 400)
    assert "grpc" in body["detail"] and "http" in body["detail"]
    assert body["errors"][0]["field"] == "profile"
    assert spy == []


def test_unknown_parameter_is_refused(service, backfilled):
    args = {**backfilled.args("healthy"), "query": "up"}
    body = _problem(service.client.get("/api/v1/analysis", params=args), 422)
    assert body["errors"][0]["field"] == "query"


def test_malformed_json_body(service):
    response = service.client.post(
        "/api/v1/analysis", content=b"{not json", headers={"content-type": "application/json"}
    )
    _problem(response, 422)
    _problem(service.client.post("/api/v1/analysis", json=["a list"]), 422)


def test_bad_judgment_queries(service):
    _problem(service.client.get("/api/v1/judgments/not-an-id"), 422)
    _problem(service.client.get("/api/v1/judgments", params={"verdict": "maybe"}), 422)
    _problem(service.client.get("/api/v1/judgments", params={"since": "yesterday"}), 422)
    _problem(service.client.get("/api/v1/judgments", params={"limit": 100000}), 422)
