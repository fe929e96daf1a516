"""The OpenAPI document says what the service answers (analyzer.server.openapi); schemathesis runs it live."""

from __future__ import annotations

import pytest

from analyzer.server.openapi import BEARER, PROBLEM_JSON, SIGNED_LINK


@pytest.fixture
def document(service) -> dict:
    return dict(service.client.get("/openapi.json").json())


def _operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_error_answer_is_a_problem_and_every_operation_declares_the_common_ones(document):
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert {"400", "413", "500"} <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM_JSON: problem}, (method, path, status)
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {"title", "status", "detail"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_one_scheme_per_credential_and_the_secured_operations_declare_401_403_503(document):
    assert set(document["components"]["securitySchemes"]) == {BEARER, SIGNED_LINK}
    security = {(m, p): o.get("security") for p, o_ in document["paths"].items() for m, o in o_.items()}
    assert security[("get", "/reports/{judgment_id}")] == [{BEARER: []}, {SIGNED_LINK: []}]
    assert security[("get", "/reports/latest")] == [{SIGNED_LINK: []}]
    assert security[("get", "/api/v1/analysis")] == [{BEARER: []}]
    assert security[("get", "/healthz")] is None
    for path, method, operation in _operations(document):
        responses, secured = set(operation["responses"]), operation.get("security", [])
        assert ("401" in responses) == ({BEARER: []} in secured), (method, path)
        if secured:
            assert {"403", "503"} <= responses, (method, path)
    assert "WWW-Authenticate" in document["paths"]["/api/v1/judgments"]["get"]["responses"]["401"]["headers"]
    assert "Retry-After" in document["paths"]["/api/v1/analysis"]["get"]["responses"]["503"]["headers"]
    assert "503" not in document["paths"]["/readyz"]["get"]["responses"]  # degraded is a 200 that says so


def test_operations_on_an_id_declare_404_and_promotion_writes_409(document):
    paths = document["paths"]
    assert "404" in paths["/api/v1/candidates/{candidate_id}"]["get"]["responses"]
    assert "404" not in paths["/api/v1/stages"]["get"]["responses"]
    assert "409" in paths["/api/v1/evaluation/promote/{candidate_id}"]["post"]["responses"]
    assert "409" not in paths["/api/v1/analysis"]["post"]["responses"]


def test_profile_and_stage_may_name_only_what_the_service_has(service, document):
    profiles = sorted(service.analyzer.profiles)
    query = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/analysis"]["get"]["parameters"]}
    assert query["profile"]["enum"] == profiles
    assert document["components"]["schemas"]["AnalysisRequest"]["properties"]["profile"]["enum"] == profiles
    to_stage = document["components"]["schemas"]["PromoteIn"]["properties"]["to_stage"]["anyOf"]
    assert [b["enum"] for b in to_stage if b.get("type") == "string"] == [["V1", "V3", "V2"]]


def test_a_wrong_method_names_every_method_of_the_path(service):
    answer = service.client.put("/api/v1/analysis")
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    assert {"GET", "POST"} <= {m.strip() for m in answer.headers["allow"].split(",")}


@pytest.mark.parametrize("bound", ["0.5", "1733011200", "-3"])
def test_a_time_bound_is_iso_8601_not_a_number(service, bound):
    answer = service.client.get("/api/v1/judgments", params={"until": bound})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "until"
    assert service.client.get("/api/v1/judgments", params={"until": "2026-12-01T14:00:00Z"}).status_code == 200
