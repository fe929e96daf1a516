"""SIGKILL of the service while 20 looks are in flight: a restarted process answers every look again,
the ledger is intact, and nothing judged on bad data was recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.support.prometheus import free_port
from tests.support.serving import serve


def _serve(prometheus_url: str, ledger: Path, port: int) -> subprocess.Popen[bytes]:
    return serve(port, prometheus_url, f"sqlite:///{ledger}")


def _look(base: str, args: dict[str, str]) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        status: int | None = httpx.get(f"{base}/api/v1/analysis", params=args, timeout=12).status_code
    except httpx.HTTPError:
        status = None  # the connection died with the process: Argo counts an Error and retries
    return status, time.monotonic() - started


def test_sigkill_under_load_loses_nothing_and_the_restart_answers(backfilled, tmp_path):
    ledger, port = tmp_path / "ledger.db", free_port()
    base = f"http://127.0.0.1:{port}"
    scenarios = ["healthy", "errors", "latency", "trickle"]
    process = _serve(backfilled.url, ledger, port)
    try:
        with ThreadPoolExecutor(20) as pool:
            looks = [pool.submit(_look, base, backfilled.args(scenarios[i % 4])) for i in range(20)]
            time.sleep(0.6)  # some looks answered, the rest in flight
            os.kill(process.pid, signal.SIGKILL)
            answered = [look.result() for look in looks]
        process.wait(5)
        assert all(status in {200, 503, None} and seconds < 10 for status, seconds in answered), answered
        process = _serve(backfilled.url, ledger, port)
        after = [_look(base, backfilled.args(name)) for name in scenarios]
        assert all(status == 200 and seconds < 10 for status, seconds in after), after
    finally:
        process.kill()
        process.wait(5)
    engine = create_engine(f"sqlite:///{ledger}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        verdicts = dict(connection.execute(text(
            "SELECT verdict, count(*) FROM judgments GROUP BY verdict")).all())
    engine.dispose()
    # On the real clock the canaries' data ended hours ago (only idle pods now): nothing to pass or fail.
    assert set(verdicts) == {"inconclusive"} and sum(verdicts.values()) >= len(scenarios), verdicts
