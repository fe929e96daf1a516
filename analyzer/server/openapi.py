"""The OpenAPI document tells the truth: every status an operation answers, problem+json for every error,
one security scheme per kind of credential, and the query profiles this service actually has.

FastAPI documents what a route declares; much of what the service answers comes from elsewhere: the
bounded-request middleware (400 for a repeated query parameter, 413 for a large body), the token check
(401, 403, and 503 when the ledger it reads is down), the error handlers (404 for an unknown id, 409 when
the promotion flow refuses) and the request log (500 with the request id). :func:`install` completes the
generated document with those, once, when it is first asked for. Schemathesis (``--checks all``) holds
the document to the service's answers in tests/server/test_schemathesis.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from analyzer.server.schemas import Problem

PROBLEM_JSON = "application/problem+json"

BEARER = "bearerToken"
SIGNED_LINK = "signedLink"

_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `canary-analyzer token create NAME --role ROLE [--namespace NS]` (roles: "
        "viewer < analysis < operator < approver < admin; a namespace scope limits analysis and judgment reads "
        "to those namespaces), or one of the settings' `api_tokens` (an unscoped analysis token). Without a "
        "token every operation is 401, unless the service runs with `insecure_no_auth`.",
    },
    SIGNED_LINK: {
        "type": "apiKey",
        "in": "query",
        "name": "sig",
        "description": "A signed, expiring link (`sig` with `expires`): report links in every Judgment are signed "
        "with the service's report key; `/reports/latest` links with `report_notification_key`, as an Argo "
        "notification template computes them. No bearer token needed.",
    },
}

_EVERY = {
    "400": "a query parameter given more than once, or a body that is not valid JSON (problem+json)",
    "413": "a request body over `max_body_bytes`, refused before it is parsed or the token checked (problem+json)",
    "500": "an unexpected error; the problem names the request id to find it in the logs (problem+json)",
}
_BEARER = {"401": "a missing, unknown or revoked bearer token (problem+json)"}
_SECURED = {
    "403": "the token's role or namespace scope does not cover this, or a link's signature is bad or expired"
    " (problem+json)",
    "503": "the database (the token ledger included) did not answer; retry after `Retry-After` (problem+json)",
}
_BY_ID = {"404": "no such id, or one outside the token's namespaces (problem+json)"}
_REFUSED = {"409": "the promotion flow refuses this in the candidate's or attempt's state (problem+json)"}

_HEADERS = {
    "401": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    "503": {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}},
}


def _declare(responses: dict[str, Any], answers: dict[str, str]) -> None:
    for status, description in answers.items():
        responses.setdefault(status, {"description": description})


def _problem_media(responses: dict[str, Any]) -> None:
    """Every error answer is ``application/problem+json`` with the :class:`Problem` body (and its headers)."""
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            if status in _HEADERS:
                response["headers"] = _HEADERS[status]


def _security(operation: dict[str, Any]) -> list[dict[str, list[str]]]:
    """The operation's credentials: the bearer token, and a signed link where ``sig`` is a query parameter."""
    schemes: list[dict[str, list[str]]] = [{BEARER: []}] if operation.get("security") else []
    if any(p["in"] == "query" and p["name"] == "sig" for p in operation.get("parameters", [])):
        schemes.append({SIGNED_LINK: []})
    return schemes


def _operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    _declare(responses, _EVERY)
    security = _security(operation)
    if security:
        operation["security"] = security
        _declare(responses, _SECURED)
    if {BEARER: []} in security:
        _declare(responses, _BEARER)
    if "{" in path:
        _declare(responses, _BY_ID)
    if method == "post" and "promotion" in operation.get("tags", []):
        _declare(responses, _REFUSED)
    _problem_media(responses)


def _string_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string branch(es) of a property's schema (``str | None`` is an ``anyOf`` with null)."""
    branches = schema.get("anyOf", [schema])
    return [b for b in branches if b.get("type") == "string"]


def _choices(schema: dict[str, Any], name: str, values: list[str]) -> None:
    """The argument ``name``, in any body or query, may take only ``values`` (else the service answers 400):
    the query profiles (``profile``) and the pipeline's stages (``to_stage``) this service has."""
    for component in schema["components"]["schemas"].values():
        if name in component.get("properties", {}):
            for branch in _string_schemas(component["properties"][name]):
                branch["enum"] = values
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == name and parameter["in"] == "query":
                    for branch in _string_schemas(parameter["schema"]):
                        branch["enum"] = values


def complete(schema: dict[str, Any], choices: dict[str, list[str]]) -> dict[str, Any]:
    """``schema`` (FastAPI's document) with what the routes do not declare themselves, and the arguments
    that name a configured thing (``choices``: argument name → the names there are); changed in place."""
    components = schema.setdefault("components", {})
    components["securitySchemes"] = _SCHEMES
    components.setdefault("schemas", {})["Problem"] = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}")
    problem_defs = components["schemas"]["Problem"].pop("$defs", {})
    components["schemas"].update(problem_defs)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _operation(path, method, operation)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body: we answer a Problem instead
        components["schemas"].pop(unused, None)
    for name, values in choices.items():
        _choices(schema, name, values)
    return schema


def _configured(app: FastAPI) -> dict[str, list[str]]:
    """The names the running service knows; none before startup (then the document is not cached)."""
    choices: dict[str, list[str]] = {}
    analyzer = getattr(app.state, "analyzer", None)
    if analyzer is not None:
        choices["profile"] = sorted(analyzer.profiles)
    promotions = getattr(app.state, "promotions", None)
    if promotions is not None:
        choices["to_stage"] = [stage.name for stage in promotions.pipeline.stages]
    return choices


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, after startup: it names the profiles
    and stages)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        choices = _configured(app)
        document = complete(generate(), choices)  # FastAPI's generate() caches its document: replaced here
        app.openapi_schema = document if choices else None
        return document

    app.openapi = openapi  # type: ignore[method-assign]
