"""RFC 9457 problem details (``application/problem+json``) for every error the API answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from analyzer import redact as secrets
from analyzer.errors import InputError, SourceUnavailableError
from analyzer.server import openapi
from analyzer.server.openapi import PROBLEM_JSON
from analyzer.service import telemetry
from analyzer.service.analysis import BadArgumentError, StoreUnavailableError
from analyzer.service.promotion import ForbiddenError, NotFoundError, PromotionError

MAX_ERRORS = 20  # validation errors named in one answer


def redact(text: str) -> str:
    """No answer echoes a credential: a URL's password, a token in a query, a header's value, a bearer
    token (``analyzer.redact``, which masks the logs the same way)."""
    return secrets.redact(text)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem response; its detail never carries a URL's credentials (a Prometheus URL with a password)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": redact(detail), **extra}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "body", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request"


def install(app: FastAPI) -> None:
    """Map validation, input, source and store errors to problem responses.

    Any SQLAlchemy error, on any route, is a 503 with ``Retry-After``: the database is down or busy,
    and the caller should come back. Unexpected errors are answered (500) and logged by
    :class:`~analyzer.server.logs.RequestLog`, which knows the request id.
    """

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        found = error.errors()
        errors = [  # the first few: a large bad body must not become a larger answer
            {"field": _field(tuple(e["loc"])), "message": str(e["msg"]).removeprefix("Value error, ")[:300]}
            for e in found[:MAX_ERRORS]
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        if len(found) > MAX_ERRORS:
            detail += f"; and {len(found) - MAX_ERRORS} more"
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(BadArgumentError)
    async def _bad_argument(_: Request, error: BadArgumentError) -> JSONResponse:
        errors = [{"field": name, "message": str(error)} for name in error.fields]
        return problem(400, error.title, str(error), errors=errors)

    @app.exception_handler(NotFoundError)
    async def _missing(_: Request, error: NotFoundError) -> JSONResponse:
        return problem(404, "Not found", str(error))

    @app.exception_handler(ForbiddenError)
    async def _forbidden(_: Request, error: ForbiddenError) -> JSONResponse:
        return problem(403, "Forbidden", str(error))

    @app.exception_handler(PromotionError)
    async def _refused(_: Request, error: PromotionError) -> JSONResponse:
        return problem(409, "Refused by the promotion flow", str(error))

    @app.exception_handler(InputError)
    async def _input(_: Request, error: InputError) -> JSONResponse:
        return problem(400, "Bad request", str(error))

    @app.exception_handler(SourceUnavailableError)
    async def _source(_: Request, error: SourceUnavailableError) -> JSONResponse:
        return problem(503, "Metrics source unavailable", str(error))

    @app.exception_handler(StoreUnavailableError)
    async def _store(_: Request, error: StoreUnavailableError) -> JSONResponse:
        return problem(503, "Database unavailable", str(error))

    @app.exception_handler(SQLAlchemyError)
    async def _database(_: Request, error: SQLAlchemyError) -> JSONResponse:
        telemetry.STORE_ERRORS.inc()
        return problem(503, "Database unavailable", str(StoreUnavailableError.of(error)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        response = problem(error.status_code, str(error.detail), str(error.detail))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        if error.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed(request))
        return response

    openapi.install(app)  # and the document says all of the above


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> list[str]:
    """Every method the path answers (Starlette's 405 names only the first matching route's: GET, not GET
    and POST), found by asking the app's routes whether they would take the path with each method."""
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in request.app.router.routes)]
