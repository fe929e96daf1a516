"""HTTP request metrics: every answer counted by method, route template and status, and timed.

The route label is the matched route's template (``/reports/{judgment_id}``), never the path, so its
values are bounded by the app's routes; a path no route matches is ``unmatched``. A pure ASGI
middleware: it only watches the response start go by, and streams nothing itself.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "canary_analyzer_http_requests_total", "HTTP requests answered, by method, route and status",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "canary_analyzer_http_request_duration_seconds", "Time to answer an HTTP request, by method and route",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class HttpMiddleware:
    """A pure ASGI middleware of HTTP requests: ``http`` sees each one; lifespan and websockets pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class HttpMetrics(HttpMiddleware):
    """Counts and times each HTTP request by its route template."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            DURATION.labels(scope["method"], route).observe(time.perf_counter() - started)
