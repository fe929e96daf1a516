"""TCP_NODELAY on the connections of a socket bound as ``serve --workers N`` binds it (protocol 0)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from analyzer.server.nodelay import H11NoDelayProtocol


async def _app(scope: object, receive: object, send: object) -> None:  # never called: no request is sent
    raise AssertionError


async def _nodelay_of_accepted(protocol: type[H11Protocol]) -> int:
    config = Config(_app)
    config.load()
    state = ServerState()
    listening = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket makes it for several workers
    listening.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: protocol(config=config, server_state=state, app_state={}), sock=listening)
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname())
        for _ in range(100):
            if state.connections:
                break
            await asyncio.sleep(0.01)
        (accepted,) = state.connections
        value = accepted.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return int(value)
    finally:
        server.close()


@pytest.mark.parametrize(("protocol", "expected"), [(H11Protocol, 0), (H11NoDelayProtocol, 1)])
def test_connections_get_tcp_nodelay_where_uvicorn_alone_leaves_nagle_on(protocol, expected):
    """uvicorn's own protocol on such a socket keeps Nagle on (the head and the body of an answer then
    wait for the caller's delayed ACK: ~40 ms a request); ours turns it off."""
    assert asyncio.run(_nodelay_of_accepted(protocol)) == expected
