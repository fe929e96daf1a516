"""A real VictoriaMetrics single-node server on loopback, the suite's second Prometheus-compatible backend.

The Debian ``victoria-metrics`` package provides it (``.ci/run`` installs it). Data come through its
import API in the Prometheus text format, converted from the same OpenMetrics text that promtool
backfills into Prometheus (OpenMetrics timestamps are seconds, the text format's milliseconds), and
are flushed before the server is handed out, so that a query sees all of it at once.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.prometheus import free_port, wait_until_up

VICTORIA_METRICS = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


def prometheus_text(openmetrics: str) -> str:
    """OpenMetrics samples (``name{labels} value seconds``) as text-format ones (milliseconds); comments dropped."""
    lines = []
    for line in openmetrics.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, timestamp = line.rpartition(" ")
        lines.append(f"{sample} {int(float(timestamp) * 1000)}")
    return "\n".join(lines) + "\n"


@contextmanager
def victoria_metrics(workdir: Path, openmetrics: str) -> Iterator[str]:
    """Start VictoriaMetrics on a free loopback port over ``workdir``, import ``openmetrics``; yield its URL."""
    port = free_port()
    log = (workdir / "victoria-metrics.log").open("w")
    process = subprocess.Popen(
        [VICTORIA_METRICS, f"-storageDataPath={workdir / 'vm-data'}", f"-httpListenAddr=127.0.0.1:{port}",
         "-retentionPeriod=100y", "-search.disableCache"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(f"{url}/health", process):
            tail = (workdir / "victoria-metrics.log").read_text()[-2000:]
            raise RuntimeError(f"victoria-metrics did not start: {tail}")
        samples = prometheus_text(openmetrics)
        httpx.post(f"{url}/api/v1/import/prometheus", content=samples, timeout=60).raise_for_status()
        httpx.get(f"{url}/internal/force_flush", timeout=30).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
