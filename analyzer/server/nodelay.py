"""uvicorn's HTTP protocol with TCP_NODELAY on every connection, one worker or several.

uvicorn answers a request in two writes, the head and then the body. With one worker it listens
through asyncio, whose accepted sockets get TCP_NODELAY; with ``--workers`` it binds the socket
itself (``socket.socket(family)``, protocol 0), and asyncio sets TCP_NODELAY only on sockets whose
protocol reads IPPROTO_TCP. Without it Nagle holds the body until the head is acknowledged, and the
caller's delayed ACK answers after ~40 ms: every look one by one took 60 ms instead of 17 (measured:
bench/service_load.py, 2 workers). Setting it on each connection as it is made covers both.

``serve`` names this protocol, so uvicorn runs h11 whatever else is installed (it would pick httptools when
importable; measured with uvloop beside it, neither saved CPU a look that the bench could tell apart).
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


def no_delay(transport: asyncio.BaseTransport) -> None:
    """TCP_NODELAY on ``transport``'s socket, if it is a TCP one."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class H11NoDelayProtocol(H11Protocol):
    """uvicorn's h11 protocol, with :func:`no_delay` on each connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)
