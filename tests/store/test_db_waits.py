"""The pool and the waits of a session: what a store access sends besides its own statements.

A pooled PostgreSQL connection is pinged only after ``PING_AFTER_IDLE_SECONDS`` idle (and replaced when
the server dropped it meanwhile); a transaction sets its statement and lock timeouts only when its
deadline leaves less than the connection's own; SQLite's busy wait is set only when it changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from analyzer.store import db as db_module
from analyzer.store.db import POSTGRESQL_STATEMENT_MS, Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _sent(database: Database) -> list[str]:
    sent: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def _backend(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    killer = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_idle_connection_the_server_dropped_is_replaced_at_checkout(database, database_url, monkeypatch):
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = _backend(database)
    _terminate(database_url, first)
    assert _backend(database) != first  # pinged, found dead, replaced: no error reaches the session


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_used_just_now_goes_out_unpinged(database, database_url, monkeypatch):
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = _backend(database)
    _terminate(database_url, first)
    with pytest.raises(OperationalError):  # no ping: the session finds out (a look then goes on without the store)
        _backend(database)
    assert _backend(database) != first  # that failure invalidated the pool


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_timeouts_are_set_only_when_the_deadline_leaves_less_than_the_connections_own(database):
    sent = _sent(database)
    with database.session(lambda: 60.0) as session:
        shown = session.execute(text("SHOW statement_timeout")).scalar_one()
    assert shown == f"{POSTGRESQL_STATEMENT_MS // 1000}s" and not any("set_config" in s for s in sent)
    with database.session(lambda: 0.5) as session:
        shown = session.execute(text("SHOW statement_timeout")).scalar_one()
    assert shown == "500ms" and sum("set_config" in s for s in sent) == 1
    with database.session(lambda: 60.0) as session:  # local to the transaction: back to the connection's own
        assert session.execute(text("SHOW statement_timeout")).scalar_one() == shown.replace("500ms", "3s")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_busy_wait_is_set_when_it_changes(database):
    sent = _sent(database)

    def busy(seconds_left: float | None) -> int:
        with database.session(None if seconds_left is None else lambda: seconds_left) as session:
            return int(session.execute(text("PRAGMA busy_timeout")).scalar_one())

    assert [busy(None), busy(None), busy(0.25), busy(0.25), busy(None)] == [5000, 5000, 250, 250, 5000]
    assert sum(s.startswith("PRAGMA busy_timeout=") for s in sent) == 3
