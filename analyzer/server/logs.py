"""Structured JSON logs, one line per event, each request's lines tied together by a request id."""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from analyzer import redact
from analyzer.server.problems import problem

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
log = logging.getLogger("canary_analyzer")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    redact.install(handler)  # no credential in any log line (analyzer/redact.py)
    for name in ("canary_analyzer", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our access line carries the request id


def _request_id(request: Request) -> str:
    offered = request.headers.get("x-request-id", "")
    if 0 < len(offered) <= 64 and offered.replace("-", "").isalnum():
        return offered
    return uuid.uuid4().hex


class RequestLog(BaseHTTPMiddleware):
    """Sets the request id (``X-Request-ID`` in and out) and logs one access line per request.

    An error no handler maps is answered here — a 500 problem that carries the request id — and logged
    with its traceback under that id, so a caller's report leads to the log line (outside this
    middleware, Starlette's own 500 would have neither).
    """

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        token = REQUEST_ID.set(_request_id(request))
        started = time.perf_counter()
        try:
            try:
                response = await call_next(request)
            except Exception as error:
                log.exception("unhandled error", extra={"fields": {"method": request.method, "path": request.url.path}})
                detail = f"{type(error).__name__}; see the service log for request {REQUEST_ID.get()}"
                response = problem(500, "Internal error", detail)
            response.headers["X-Request-ID"] = REQUEST_ID.get()
            fields = {
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            log.info("request", extra={"fields": fields})
            return response
        finally:
            REQUEST_ID.reset(token)
