"""``canary-analyzer serve`` as a process of its own, as it runs in a pod: for tests that kill it,
restart it, or load it from many client threads without sharing its interpreter (and its GIL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx


def serve(port: int, prometheus_url: str, database_url: str, **settings: str) -> subprocess.Popen[bytes]:
    """Start the service on loopback ``port`` (no auth) and return once ``/healthz`` answers.

    ``settings`` are more of its settings by name (``look_deadline_seconds="3"``)."""
    env = {**os.environ, "CANARY_ANALYZER_PROMETHEUS_URL": prometheus_url,
           "CANARY_ANALYZER_DATABASE_URL": database_url, "CANARY_ANALYZER_INSECURE_NO_AUTH": "true",
           "CANARY_ANALYZER_PORT": str(port), "CANARY_ANALYZER_HOST": "127.0.0.1",
           **{f"CANARY_ANALYZER_{name.upper()}": value for name, value in settings.items()}}
    process = subprocess.Popen([sys.executable, "-m", "analyzer.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60  # its imports alone take 2 s of CPU, much longer on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the service did not start")
