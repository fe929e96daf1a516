"""A misbehaving Prometheus on loopback: fixed (malformed) answers, dripped bytes, or a proxy that edits.

A real HTTP server (``http.server`` in a thread), so the client under test goes through its whole
stack — sockets, timeouts, retries, decoding. What it does is set on the object between requests:

* ``answer(status, body)``: every request gets that status and body;
* ``drip(seconds_per_byte, headers_too)``: the answer trickles out a byte at a time;
* ``edit(fn)``: requests go to the real ``upstream`` Prometheus and ``fn`` rewrites its JSON answer
  (a Thanos-style partial-response warning, say).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Edit = Callable[[dict[str, Any]], dict[str, Any]]


class FaultServer:
    """State shared with the handler threads: what to answer next, and how many requests came."""

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.status = 200
        self.body = b"{}"
        self.editor: Edit | None = None
        self.seconds_per_byte = 0.0
        self.drip_headers = False
        self.encoding: str | None = None
        self.requests = 0
        self.url = ""

    def answer(self, status: int, body: bytes | str | dict[str, Any], gzipped: bool = False) -> None:
        self.editor = None
        self.status = status
        if isinstance(body, dict):
            body = json.dumps(body)
        self.body = body.encode() if isinstance(body, str) else body
        self.encoding = "gzip" if gzipped else None
        if gzipped:
            self.body = gzip.compress(self.body)

    def edit(self, editor: Edit) -> None:
        self.editor = editor

    def drip(self, seconds_per_byte: float, headers_too: bool = False) -> None:
        self.seconds_per_byte = seconds_per_byte
        self.drip_headers = headers_too

    def respond(self, path: str, form: bytes | None = None) -> tuple[int, bytes]:
        """The answer to a GET of ``path``, or to a POST of the form body ``form`` to it (forwarded as it came)."""
        self.requests += 1
        if self.editor is None or self.upstream is None:
            return self.status, self.body
        if form is None:
            upstream = httpx.get(f"{self.upstream}{path}", timeout=10)
        else:
            form_type = {"Content-Type": "application/x-www-form-urlencoded"}
            upstream = httpx.post(f"{self.upstream}{path}", content=form, headers=form_type, timeout=10)
        return upstream.status_code, json.dumps(self.editor(upstream.json())).encode()


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, data: bytes, drip: bool) -> None:
            if not drip:
                self.wfile.write(data)
                return
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(server.seconds_per_byte)

        def do_GET(self) -> None:
            self._answer(None)

        def do_POST(self) -> None:  # Prometheus' query API takes its parameters as a form body too
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _answer(self, form: bytes | None) -> None:
            status, body = server.respond(self.path, form)
            encoding = f"Content-Encoding: {server.encoding}\r\n" if server.encoding and not server.editor else ""
            head = (
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{encoding}"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            dripping = server.seconds_per_byte > 0
            try:
                self._send(head, dripping and server.drip_headers)
                self._send(body, dripping)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many looks at once connect at once


@contextmanager
def fault_server(upstream: str | None = None) -> Iterator[FaultServer]:
    """A :class:`FaultServer` listening on a free loopback port, stopped at the end."""
    state = FaultServer(upstream)
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
