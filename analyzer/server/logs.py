"""Structured JSON logs, one line per event, each request's lines tied together by a request id."""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from analyzer import redact
from analyzer.server.http_metrics import HttpMiddleware
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


def _request_id(scope: Scope) -> str:
    offered = Headers(scope=scope).get("x-request-id", "")
    if 0 < len(offered) <= 64 and offered.replace("-", "").isalnum():
        return offered
    return uuid.uuid4().hex


class RequestLog(HttpMiddleware):
    """Sets the request id (``X-Request-ID`` in and out) and logs one access line per request.

    An error no handler maps is answered here — a 500 problem that carries the request id — and logged
    with its traceback under that id, so a caller's report leads to the log line (outside this
    middleware, Starlette's own 500 would have neither). A pure ASGI middleware: it adds a header to the
    response start as it goes by, without Starlette's ``BaseHTTPMiddleware`` task and stream per request.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                fields = {"method": scope["method"], "path": scope["path"]}
                log.exception("unhandled error", extra={"fields": fields})
                if status is not None:  # the answer has begun: nothing else can be sent
                    raise
                detail = f"{type(error).__name__}; see the service log for request {request_id}"
                await problem(500, "Internal error", detail)(scope, receive, send_with_id)
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            log.info("request", extra={"fields": fields})
        finally:
            REQUEST_ID.reset(token)
