"""Headless Debian ``chromium`` for page tests, with every request off the machine caught.

The browser runs with a proxy that is a local socket nobody answers but us: any request a page
makes to another host (a CDN script, a font, an image) goes there and is counted, and nothing leaves
the machine. Loopback is never proxied (Chromium's implicit bypass), so a page served by the test's
own server still loads. ``.ci/run`` installs chromium.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
]
#: The browser's own calls home that no flag turns off (component updates, sign-in, autofill, safe browsing,
#: optimisation hints): never a page's. Fonts and CDNs (fonts.googleapis.com, …) are not among them.
BROWSER_HOSTS = {
    "update.googleapis.com", "accounts.google.com", "clients2.google.com", "content-autofill.googleapis.com",
    "optimizationguide-pa.googleapis.com", "safebrowsingohttpgateway.googleapis.com", "safebrowsing.googleapis.com",
    "clientservices.googleapis.com", "android.clients.google.com", "redirector.gvt1.com", "edgedl.me.gvt1.com",
}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    return found


@dataclass
class Trap:
    """A proxy that answers nothing and remembers what asked (the first bytes of each request)."""

    port: int
    requests: list[bytes] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def settled(self) -> list[bytes]:
        """The requests, once every connection so far has been read (or has sent nothing in time)."""
        for reader in list(self.readers):
            reader.join(timeout=READ_SECONDS + 1)
        return list(self.requests)


#: Chromium opens spare sockets to its proxy ahead of need (preconnect): one that sends no request line
#: within this long asked for nothing; a page's request sends its line at once.
READ_SECONDS = 3.0


@contextmanager
def _trap() -> Iterator[Trap]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    trap = Trap(server.getsockname()[1])
    stop = threading.Event()

    def read(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(READ_SECONDS)
            try:
                request = connection.recv(512)
            except OSError:
                request = b""
            if request:
                trap.requests.append(request)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            reader = threading.Thread(target=read, args=(connection,), daemon=True)
            trap.readers.append(reader)
            reader.start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield trap
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def _host(request: bytes) -> str:
    for line in request.split(b"\r\n")[1:]:
        if line.lower().startswith(b"host:"):
            return line.split(b":", 2)[1].strip().decode(errors="replace")
    return "?"


@dataclass(frozen=True)
class Visit:
    dom: str
    requests: list[bytes]

    @property
    def off_machine(self) -> list[str]:
        """The hosts the page itself tried to reach (the browser's own calls home left out)."""
        return [host for host in map(_host, self.requests) if host not in BROWSER_HOSTS]


def visit(url: str, screenshot: Path | None = None, width: int = 1000, height: int = 2400) -> Visit:
    """Open ``url`` headless: its DOM after scripts ran, and any request that tried to leave the machine."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, _trap() as trap:
        args = [
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--proxy-server=http://127.0.0.1:{trap.port}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",  # let scripts and their same-origin fetches finish before the dump
        ]
        if screenshot is not None:
            subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=60, check=True)
        done = subprocess.run([*args, "--dump-dom", url], capture_output=True, timeout=60, check=True, text=True)
        return Visit(done.stdout, trap.settled())
