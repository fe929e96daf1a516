"""The analysis GET validates its query itself (analyzer.server.query_args): its problem answers and its
OpenAPI parameters are what FastAPI's own ``Annotated[AnalysisRequest, Query()]`` gives."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from analyzer.server import problems
from analyzer.server.schemas import AnalysisRequest

ARGS = {"profile": "http", "namespace": "shop", "rollout": "checkout", "canary": "abc123", "stable": "def456"}


@pytest.fixture(scope="module")
def fastapis_own() -> TestClient:
    """FastAPI's query model on the same problem handlers: the reference the route must answer as."""
    reference = FastAPI()
    problems.install(reference)

    @reference.get("/api/v1/analysis")
    async def analysis(args: Annotated[AnalysisRequest, Query()]) -> dict[str, object]:
        return args.model_dump()

    return TestClient(reference)


@pytest.mark.parametrize("query", [
    {},
    {"namespace": "shop"},
    {**ARGS, "extra": "1"},
    {**ARGS, "step": "-1"},
    {**ARGS, "step": "abc"},
    {**ARGS, "step": "1.5"},
    {**ARGS, "step": "10001"},
    {**ARGS, "canary": "NOT_A_HASH", "rollout": "Bad_Name"},
    {**ARGS, "namespace": "x" * 70},
    {**ARGS, "profile": ""},
    {k: v for k, v in ARGS.items() if k != "stable"},
])
def test_bad_arguments_are_answered_as_fastapis_query_model_answers_them(service, fastapis_own, query):
    ours = service.client.get("/api/v1/analysis", params=query)
    theirs = fastapis_own.get("/api/v1/analysis", params=query)
    assert (ours.status_code, ours.headers["content-type"]) == (theirs.status_code, theirs.headers["content-type"])
    assert ours.status_code == 422
    assert ours.json() == theirs.json()


def test_good_arguments_are_read_as_fastapis_query_model_reads_them(service, fastapis_own, backfilled):
    for query in ({**ARGS, "step": ""}, {**ARGS, "step": "3"}, {k: v for k, v in ARGS.items() if k != "profile"}):
        read = AnalysisRequest.model_validate(fastapis_own.get("/api/v1/analysis", params=query).json())
        assert read.profile == "http" and read.step == (3 if query.get("step") else None)
    answer = service.client.get("/api/v1/analysis", params={**backfilled.args("healthy"), "step": ""})
    assert answer.status_code == 200, answer.text


def test_the_parameters_are_documented_as_fastapi_documents_the_query_model(service, fastapis_own):
    ours = service.client.get("/openapi.json").json()["paths"]["/api/v1/analysis"]["get"]["parameters"]
    theirs = fastapis_own.get("/openapi.json").json()["paths"]["/api/v1/analysis"]["get"]["parameters"]
    for parameter in ours:
        parameter["schema"].pop("enum", None)  # the profiles this service has, added to the document
    assert ours == theirs
    assert [(p["name"], p["required"]) for p in ours] == [
        ("profile", False), ("namespace", True), ("rollout", True), ("canary", True), ("stable", True), ("step", False),
    ]
