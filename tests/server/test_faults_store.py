"""The ledger failing under a look: SQLite locked or full, PostgreSQL stalled on a lock, stopped and
restarted. Every look answers 200 or 503 within 10 s, and a 503 records nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.postgres import _as_server_user, _bindir, postgres
from tests.support.service import Clock, make_app


def _timed(client: TestClient, args: dict[str, str]) -> tuple[int, float]:
    started = time.monotonic()
    status = client.get("/api/v1/analysis", params=args).status_code
    return status, time.monotonic() - started


def _recorded(client: TestClient) -> int:
    return len(client.get("/api/v1/judgments").json()["items"])


@pytest.fixture
def sqlite_service(backfilled, tmp_path) -> Iterator[tuple[TestClient, object]]:
    app, analyzer = make_app(settings_for(backfilled.url, tmp_path), Clock(backfilled.start + 20 * STEP + 5))
    with TestClient(app) as client:
        yield client, analyzer


def test_a_locked_sqlite_is_a_503_inside_argos_timeout(sqlite_service, backfilled, tmp_path):
    client, _ = sqlite_service
    assert client.get("/api/v1/analysis", params=backfilled.args("errors")).status_code == 200
    holder = sqlite3.connect(tmp_path / "ledger.db", timeout=0)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, e.g. a stuck backup
    try:
        status, seconds = _timed(client, backfilled.args("errors"))
    finally:
        holder.rollback()
        holder.close()
    assert status == 503 and seconds < 10, (status, seconds)
    assert _recorded(client) == 1


def test_a_full_sqlite_disk_is_a_503_and_records_nothing(sqlite_service, backfilled):
    client, analyzer = sqlite_service
    assert client.get("/api/v1/analysis", params=backfilled.args("healthy")).status_code == 200
    engine = analyzer.database.engine

    def full(connection, _record) -> None:  # the file may not grow by another page: SQLITE_FULL
        connection.execute(f"PRAGMA max_page_count={connection.execute('PRAGMA page_count').fetchone()[0]}")

    event.listen(engine, "connect", full)
    engine.dispose()
    statuses = [_timed(client, backfilled.args("healthy")) for _ in range(3)]
    event.remove(engine, "connect", full)
    engine.dispose()
    assert all(status == 503 and seconds < 10 for status, seconds in statuses), statuses
    assert _recorded(client) == 1


@pytest.fixture
def own_postgres(backfilled, tmp_path) -> Iterator[tuple[TestClient, str, str]]:
    """A PostgreSQL of the test's own (it is stopped and stalled), the app on it, and its data directory."""
    with postgres() as url:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            data = connection.execute(text("SHOW data_directory")).scalar_one()
        engine.dispose()
        settings = settings_for(backfilled.url, tmp_path, database_url=url)
        app, _ = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
        with TestClient(app) as client:
            yield client, url, str(data)


def _pg_ctl(data: str, *args: str) -> None:
    subprocess.run(_as_server_user([f"{_bindir()}/pg_ctl", "-D", data, "-w", *args]), check=True,
                   capture_output=True)


def test_postgresql_stalled_on_a_lock_is_a_503_inside_argos_timeout(own_postgres, backfilled):
    client, url, _ = own_postgres
    assert client.get("/api/v1/analysis", params=backfilled.args("errors")).status_code == 200
    holder = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with holder.connect() as connection:
        connection.execute(text("LOCK TABLE analysis_windows, judgments IN ACCESS EXCLUSIVE MODE"))
        status, seconds = _timed(client, backfilled.args("errors"))
        connection.rollback()
    holder.dispose()
    assert status == 503 and seconds < 10, (status, seconds)
    assert _recorded(client) == 1


def test_postgresql_stopped_then_restarted(own_postgres, backfilled):
    client, url, data = own_postgres
    root, port = str(Path(data).parent), url.rsplit(":", 1)[1].split("/")[0]
    assert client.get("/api/v1/analysis", params=backfilled.args("errors")).status_code == 200
    _pg_ctl(data, "-m", "fast", "stop")
    try:
        status, seconds = _timed(client, backfilled.args("errors"))
        assert status == 503 and seconds < 10, (status, seconds)
    finally:
        _pg_ctl(data, "start", "-l", f"{root}/log", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1")
    # Back: the pool's dead connections are replaced, and the look is judged again.
    status, seconds = _timed(client, backfilled.args("errors"))
    assert status == 200 and seconds < 10, (status, seconds)
    assert _recorded(client) == 2
