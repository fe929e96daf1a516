"""HTTP on the caller's thread: every wait ends at the call's deadline (headers and connecting included),
each read still at most the socket timeout; connections are kept; TLS trusts the CA it is given."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3.exceptions

from analyzer.sources import transport
from analyzer.sources.promapi import Deadline
from tests.support.faults import fault_server


def _get(pool: urllib3.HTTPConnectionPool, read_timeout: float = 5.0) -> urllib3.BaseHTTPResponse:
    return pool.urlopen("GET", "/", timeout=urllib3.Timeout(connect=5.0, read=read_timeout), pool_timeout=5)


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers and body"])
def test_a_dripping_answer_is_cut_at_the_deadline(headers_too):
    """A byte every 20 ms: no read comes near the 5 s socket timeout; the deadline of 0.5 s ends the exchange."""
    with fault_server() as server, transport.pool(server.url, 1) as pool:
        server.answer(200, "x" * 10_000)
        server.drip(0.02, headers_too=headers_too)
        started = time.monotonic()
        with transport.until(Deadline(0.5)), pytest.raises(urllib3.exceptions.ReadTimeoutError):
            _get(pool).read()
        assert 0.45 < time.monotonic() - started < 0.8


def test_each_read_still_waits_at_most_the_socket_timeout():
    """A silent server, a long deadline: the read timeout (0.2 s) ends the wait first."""
    with fault_server() as server, transport.pool(server.url, 1) as pool:
        server.answer(200, "{}")
        server.drip(10.0, headers_too=True)
        started = time.monotonic()
        with transport.until(Deadline(5.0)), pytest.raises(urllib3.exceptions.ReadTimeoutError):
            _get(pool, read_timeout=0.2)
        assert time.monotonic() - started < 1.0


def test_a_name_that_takes_long_to_resolve_is_given_up_at_the_deadline(monkeypatch):
    """Name resolution has no timeout; the caller waits for it until the deadline only."""
    resolve = socket.getaddrinfo

    def slow(host: str, *args: object, **kwargs: object) -> object:
        if host == "slow.invalid":
            time.sleep(2.0)
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return resolve(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    with transport.pool("http://slow.invalid:9090", 1) as pool:
        started = time.monotonic()
        with transport.until(Deadline(0.3)), pytest.raises(urllib3.exceptions.ConnectTimeoutError):
            _get(pool)
        assert time.monotonic() - started < 0.8


def test_a_connection_is_kept_for_the_next_requests():
    with fault_server() as server, transport.pool(server.url, 4) as pool:
        server.answer(200, "{}")
        with transport.until(Deadline(5.0)):
            answers = [_get(pool).data for _ in range(3)]
        assert answers == [b"{}"] * 3 and server.requests == 3 and pool.num_connections == 1


def test_callers_beyond_the_pool_wait_for_a_connection():
    """One connection, busy with a dripping answer: a second caller waits for it, then gives up."""
    with fault_server() as server, transport.pool(server.url, 1) as pool:
        server.answer(200, "x" * 30)
        server.drip(0.02)  # 0.6 s
        busy = threading.Thread(target=lambda: _get(pool).read())
        busy.start()
        time.sleep(0.1)
        with pytest.raises(urllib3.exceptions.EmptyPoolError):
            pool.urlopen("GET", "/", pool_timeout=0.2)  # type: ignore[arg-type]
        busy.join()


def test_only_http_urls_are_pooled():
    with pytest.raises(ValueError, match="not an http"):
        transport.pool("prometheus:9090", 1)


def test_basic_credentials_are_encoded_as_rfc_7617_says():
    assert transport.basic("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback whose certificate a private CA signed: (its URL, the CA's file)."""
    folder = tmp_path_factory.mktemp("tls")
    ca, key, cert = folder / "ca.pem", folder / "server.key", folder / "server.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test CA",
             "-keyout", str(folder / "ca.key"), "-out", str(ca))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
             "-out", str(folder / "server.csr"))
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(ca), "-CAkey", str(folder / "ca.key"),
             "-CAcreateserial", "-days", "1", "-extfile", str(folder / "san.cnf"), "-out", str(cert))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca
    finally:
        server.shutdown()
        server.server_close()


def test_tls_trusts_the_private_ca_it_is_given(private_ca):
    url, ca = private_ca
    with transport.pool(url, 1, str(ca)) as pool, transport.until(Deadline(5.0)):
        assert _get(pool).data == b"{}"


def test_tls_without_the_private_ca_refuses_the_server(private_ca):
    url, _ = private_ca
    with transport.pool(url, 1) as pool, transport.until(Deadline(5.0)), pytest.raises(urllib3.exceptions.SSLError):
        _get(pool)
