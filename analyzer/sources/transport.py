"""HTTP exchanges on the caller's own thread, each wait ending at the deadline of the call in progress.

A socket timeout bounds one wait for bytes, not an exchange: a server that drips a byte at a time,
its status line and headers included, would hold a caller for minutes. So every read of an answer
through a pool made here (:func:`pool`) sets the socket's timeout to what remains of the current
call's deadline (:func:`until`) before it waits, and past the deadline raises :class:`TimeoutError`,
which urllib3 reports as a read timeout. Connecting is the one wait no socket timeout covers (name
resolution has none): it runs on a worker thread that the caller waits for only until the deadline.
Connections are pooled, so a call rarely connects, and no call hands its exchange to another thread.

Nothing here reads the environment (proxy, netrc or CA variables): a private CA is given
explicitly, otherwise certifi's bundle is trusted (as requests did, which the clients used before).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import io
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

import certifi
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util import make_headers, parse_url

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: What a request's Authorization header is set to, asked at each request (a rotated secret applies at once).
Authorizer = Callable[[], str]

#: The Content-Type of a form body (Prometheus' query parameters, an OAuth2 token request).
FORM = "application/x-www-form-urlencoded"
#: What a Prometheus or datasource URL must look like (the settings check it, so a bad one stops start-up
#: with its name instead of failing every look): an http or https scheme and a host.
HTTP_URL = r"(?i)^https?://[^/?#]+"
#: Connections being made at once, across every pool (more wait, within their deadlines).
CONNECTING = 8


class Remaining(Protocol):
    """A deadline: how many seconds are left (≤ 0 once it has passed)."""

    def remaining(self) -> float: ...


_deadline: ContextVar[Remaining | None] = ContextVar("canary_analyzer_http_deadline", default=None)
_connecting = concurrent.futures.ThreadPoolExecutor(max_workers=CONNECTING, thread_name_prefix="http-connect")


@contextmanager
def until(deadline: Remaining) -> Iterator[None]:
    """Every exchange this thread makes inside the block waits, connecting and reading, until ``deadline`` at most."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def basic(username: str, password: str) -> str:
    """The Authorization header value of HTTP basic authentication (RFC 7617, latin-1 as requests sent it)."""
    return make_headers(basic_auth=f"{username}:{password}")["authorization"]


class _PacedReader(io.RawIOBase):
    """A socket's bytes, each read waiting at most for the socket's timeout and until the deadline."""

    def __init__(self, sock: socket.socket, deadline: Remaining) -> None:
        super().__init__()
        self._sock = sock
        # A socket file counts as a user of the socket, which stays open until it is closed: http.client
        # closes a connection whose answer says so while that answer is still being read.
        self._file = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._timeout = sock.gettimeout()  # the read timeout urllib3 has just set

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        left = self._deadline.remaining()
        if left <= 0:
            raise TimeoutError("the call's deadline has passed")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


class _PacedResponse(http.client.HTTPResponse):
    """http.client's answer, read (status line, headers, body) through a :class:`_PacedReader` inside :func:`until`."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
                 url: str | None = None) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline = _deadline.get()
        if deadline is not None:
            self.fp.close()  # http.client's own reader, replaced before it read anything
            self.fp = io.BufferedReader(_PacedReader(sock, deadline))


class _Connection(HTTPConnection):
    """urllib3's connection, connecting on a worker within the deadline and reading its answers paced."""

    response_class = _PacedResponse

    def connect(self) -> None:
        deadline = _deadline.get()
        if deadline is None:
            super().connect()
            return
        connecting = _connecting.submit(super().connect)
        try:
            connecting.result(timeout=max(deadline.remaining(), 0.0))
        except concurrent.futures.TimeoutError:
            if not connecting.cancel():  # not started yet (every worker busy): it never will be; else the
                # socket it makes comes too late and is closed
                connecting.add_done_callback(lambda _: self.close())
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out at the call's deadline") from None


class _TLSConnection(_Connection, HTTPSConnection):
    """The same over TLS (``_Connection.connect`` runs ``HTTPSConnection.connect``: the handshake included)."""


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


def pool(url: str, connections: int, ca_file: str | None = None) -> HTTPConnectionPool:
    """Up to ``connections`` kept-alive connections to the host of ``url`` (an http or https URL); more callers
    wait for one (urlopen's ``pool_timeout``). Nothing is retried nor redirected by urllib3: callers decide."""
    parts = parse_url(url)
    if parts.host is None or parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    if parts.scheme == "https":
        return _TLSPool(parts.host, parts.port, maxsize=connections, block=True, retries=False,
                        ca_certs=ca_file or certifi.where())
    return _Pool(parts.host, parts.port, maxsize=connections, block=True, retries=False)
