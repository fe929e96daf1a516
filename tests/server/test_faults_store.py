"""The ledger failing under a look: SQLite locked or full, PostgreSQL stalled on a lock, stopped and
restarted.

Every look answers within its deadline (store waits end by half of what it leaves, whatever SQLite's
busy wait or PostgreSQL's timeouts are) and records nothing while the store fails. Where the data
shows where the window starts, the look is judged from Prometheus alone — the same window, so the same
verdict as with the store, flagged "not recorded" — and a step's analysis cannot pass (the store keeps
where the step began); where it cannot (the canary's data reaches back past the lookback), 503.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.postgres import _as_server_user, _bindir, postgres
from tests.support.service import Clock, make_app

DEADLINE = 3.0  # shorter than SQLite's 5 s busy wait and PostgreSQL's 3 s statement timeout


def _timed(client: TestClient, args: dict[str, str]) -> tuple[int, float, dict[str, Any]]:
    started = time.monotonic()
    response = client.get("/api/v1/analysis", params=args)
    return response.status_code, time.monotonic() - started, response.json()


def _recorded(client: TestClient) -> int:
    return len(client.get("/api/v1/judgments").json()["items"])


def _unrecorded(body: dict[str, Any]) -> bool:
    return body["reasons"][0].startswith("not recorded (the database is unavailable")


@pytest.fixture
def sqlite_service(backfilled, tmp_path) -> Iterator[tuple[TestClient, object]]:
    settings = settings_for(backfilled.url, tmp_path, look_deadline_seconds=DEADLINE)
    app, analyzer = make_app(settings, Clock(backfilled.start + 30 * STEP + 5))
    with TestClient(app) as client:
        yield client, analyzer


def test_a_locked_sqlite_is_judged_from_the_data_within_the_deadline_and_records_nothing(
        sqlite_service, backfilled, tmp_path):
    client, _ = sqlite_service
    recorded = {name: _timed(client, backfilled.args(name))[2] for name in ("errors", "healthy")}
    holder = sqlite3.connect(tmp_path / "ledger.db", timeout=0)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, e.g. a stuck backup
    try:
        looks = {name: _timed(client, backfilled.args(name)) for name in ("errors", "healthy")}
        stepped = _timed(client, backfilled.args("healthy", step="1"))
    finally:
        holder.rollback()
        holder.close()
    for name, (status, seconds, body) in looks.items():
        assert status == 200 and seconds < DEADLINE + 0.5, (status, seconds)  # the busy wait alone is 5 s
        assert _unrecorded(body), body["reasons"]
        assert (body["verdict"], body["window"]) == (recorded[name]["verdict"], recorded[name]["window"])
    assert recorded["healthy"]["verdict"] == "pass" and recorded["errors"]["verdict"] == "fail"
    status, seconds, body = stepped
    assert status == 200 and seconds < DEADLINE + 0.5 and body["verdict"] == "inconclusive", body["reasons"]
    assert "no pass before the database is back" in body["reasons"][0]
    assert _recorded(client) == 2


def test_a_full_sqlite_disk_is_judged_from_the_data_and_records_nothing(sqlite_service, backfilled):
    client, analyzer = sqlite_service
    assert client.get("/api/v1/analysis", params=backfilled.args("healthy")).status_code == 200
    engine = analyzer.database.engine

    def full(connection, _record) -> None:  # the file may not grow by another page: SQLITE_FULL
        connection.execute(f"PRAGMA max_page_count={connection.execute('PRAGMA page_count').fetchone()[0]}")

    event.listen(engine, "connect", full)
    engine.dispose()
    looks = [_timed(client, backfilled.args("healthy")) for _ in range(3)]
    event.remove(engine, "connect", full)
    engine.dispose()
    assert all(status == 200 and seconds < DEADLINE and _unrecorded(body) for status, seconds, body in looks), looks
    assert _recorded(client) == 1


def test_without_the_store_a_start_the_data_cannot_show_is_a_503(backfilled, tmp_path):
    """Ten minutes of lookback on a canary that started 30 minutes ago: its first data searched is
    the edge of the search, and a start that moves with the clock would judge another window at
    every look."""
    settings = settings_for(backfilled.url, tmp_path, look_deadline_seconds=DEADLINE, lookback_seconds=600)
    app, analyzer = make_app(settings, Clock(backfilled.start + 30 * STEP + 5))
    with TestClient(app) as client:
        analyzer.database.engine.dispose()  # read-only from now on: the first look cannot record its start
        event.listen(analyzer.database.engine, "connect", lambda c, _r: c.execute("PRAGMA query_only=1"))
        started = time.monotonic()
        response = client.get("/api/v1/analysis", params=backfilled.args("healthy"))
        seconds = time.monotonic() - started
    assert response.status_code == 503 and seconds < DEADLINE and response.headers["Retry-After"], seconds
    assert "cannot be derived from the data" in response.json()["detail"], response.json()


@pytest.fixture
def own_postgres(backfilled, tmp_path) -> Iterator[tuple[TestClient, str, str]]:
    """A PostgreSQL of the test's own (it is stopped and stalled), the app on it, and its data directory."""
    with postgres() as url:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            data = connection.execute(text("SHOW data_directory")).scalar_one()
        engine.dispose()
        settings = settings_for(backfilled.url, tmp_path, database_url=url, look_deadline_seconds=DEADLINE)
        app, _ = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
        with TestClient(app) as client:
            yield client, url, str(data)


def _pg_ctl(data: str, *args: str) -> None:
    subprocess.run(_as_server_user([f"{_bindir()}/pg_ctl", "-D", data, "-w", *args]), check=True,
                   capture_output=True)


def test_postgresql_stalled_on_a_lock_is_judged_within_the_deadline(own_postgres, backfilled):
    client, url, _ = own_postgres
    _, _, first = _timed(client, backfilled.args("errors"))
    holder = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with holder.connect() as connection:
        connection.execute(text("LOCK TABLE analysis_windows, judgments IN ACCESS EXCLUSIVE MODE"))
        status, seconds, body = _timed(client, backfilled.args("errors"))
        connection.rollback()
    holder.dispose()
    assert status == 200 and seconds < DEADLINE + 0.5, (status, seconds)  # the lock timeout alone is 2 s
    assert _unrecorded(body) and (body["verdict"], body["window"]) == (first["verdict"], first["window"])
    assert _recorded(client) == 1


def test_postgresql_stopped_then_restarted(own_postgres, backfilled):
    client, url, data = own_postgres
    root, port = str(Path(data).parent), url.rsplit(":", 1)[1].split("/")[0]
    _, _, first = _timed(client, backfilled.args("errors"))
    _pg_ctl(data, "-m", "fast", "stop")
    try:
        status, seconds, body = _timed(client, backfilled.args("errors"))
        assert status == 200 and seconds < DEADLINE, (status, seconds)
        assert _unrecorded(body) and (body["verdict"], body["window"]) == (first["verdict"], first["window"])
    finally:
        _pg_ctl(data, "start", "-l", f"{root}/log", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1")
    # Back: the pool's dead connections are replaced, and the look is judged and recorded again.
    status, seconds, body = _timed(client, backfilled.args("errors"))
    assert status == 200 and seconds < DEADLINE and not _unrecorded(body), (status, seconds)
    assert _recorded(client) == 2
