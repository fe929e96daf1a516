"""A hanging Prometheus under many looks at once: every look a 503 inside Argo's timeout, /healthz instant.

The service runs in uvicorn on a real socket, with the thread pool of a real deployment (AnyIO's 40
threads for the synchronous handlers); Prometheus is a loopback server that drips its answer a byte at
a time, so that no single socket read ever times out.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.server.conftest import settings_for
from tests.support.faults import fault_server
from tests.support.service import Clock, live_server, make_app

ARGS = {"namespace": "shop", "rollout": "checkout", "canary": "c4a1e", "stable": "5b7d2"}
LOOKS = 45  # more than the 40 worker threads


def _timed(url: str, params: dict[str, str] | None = None) -> tuple[int, float]:
    started = time.monotonic()
    status = httpx.get(url, params=params, timeout=30).status_code
    return status, time.monotonic() - started


def test_looks_on_a_dripping_prometheus_are_503_within_the_deadline_and_healthz_answers(tmp_path):
    with fault_server() as prometheus:
        prometheus.answer(200, '{"status": "success", "data": {"resultType": "matrix", "result": []}}')
        prometheus.drip(0.05, headers_too=True)  # ~7 s per answer, each byte well inside the read timeout
        settings = settings_for(prometheus.url, tmp_path, look_deadline_seconds=2.0, prometheus_timeout_seconds=0.5)
        app, _ = make_app(settings, Clock(1_800_000_000))
        with live_server(app) as base, ThreadPoolExecutor(LOOKS) as pool:
            looks = [pool.submit(_timed, f"{base}/api/v1/analysis", ARGS) for _ in range(LOOKS)]
            time.sleep(0.5)  # every worker thread is waiting on Prometheus now
            health = [_timed(f"{base}/healthz") for _ in range(3)]
            answers = [look.result() for look in looks]
    assert {status for status, _ in answers} == {503}
    assert max(elapsed for _, elapsed in answers) < 2 * settings.look_deadline_seconds + 1.5  # two waves of 40
    assert all(status == 200 and elapsed < 1.0 for status, elapsed in health), health
