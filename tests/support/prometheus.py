"""A real Prometheus server on loopback for the tests: backfilled with promtool, or scraping an exporter.

The Debian ``prometheus`` package provides both binaries (``.ci/run`` installs it). Each server gets
its own temporary TSDB directory and a free port, and is stopped when the fixture ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[Any], seconds: float = 30) -> bool:
    """Poll ``url`` until it answers 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def backfill(openmetrics: str, data_dir: Path) -> None:
    source = data_dir.parent / "backfill.om"
    source.write_text(openmetrics)
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
                   check=True, capture_output=True)


@contextmanager
def prometheus(
    workdir: Path, scrape_configs: str = "[]", scrape_interval: str = "15s", port: int | None = None,
    flags: tuple[str, ...] = (),
) -> Iterator[str]:
    """Start Prometheus on loopback (a free port unless ``port``; more command-line ``flags``) over
    ``workdir/data``; yield its base URL."""
    config = workdir / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: {scrape_interval}}}\nscrape_configs: {scrape_configs}\n")
    port = port or free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y", *flags],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(f"{url}/-/ready", process):
            raise RuntimeError(f"prometheus did not start: {(workdir / 'prometheus.log').read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
