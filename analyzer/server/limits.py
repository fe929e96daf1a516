"""Bounded inputs, before any parsing or token work: a body size limit and no repeated query parameters.

A pure ASGI middleware (no request object is built): a ``Content-Length`` over the limit is refused at
once, and a body without one is read up to the limit and refused past it, so a 44 MB upload costs at
most the limit in memory and never reaches JSON parsing, validation or the token check. A query
parameter given twice is refused (400, named) instead of silently taking the last.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analyzer.server.problems import problem


class BoundedRequests:
    """Refuse bodies over ``max_body_bytes`` (413) and repeated query parameters (400), problem+json."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = Counter(name for name, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                     keep_blank_values=True))
        repeated = sorted(name for name, n in names.items() if n > 1)
        if repeated:
            await problem(400, "Repeated query parameter", f"{', '.join(repeated)}: given more than once",
                          errors=[{"field": n, "message": "given more than once"} for n in repeated])(
                scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        messages: list[Message] = []
        size, more = 0, True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than {self.max_body_bytes} bytes"
        await problem(413, "Request too large", detail)(scope, receive, send)
