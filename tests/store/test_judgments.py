"""The ledger on SQLite and on a real PostgreSQL: migrations, judgments, and the window start race."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from analyzer.errors import InputError
from analyzer.store import Database, JudgmentFilter, JudgmentRecord, WindowKey
from analyzer.store.db import normalise_url
from analyzer.store.judgments import (
    get_judgment,
    key_columns,
    list_judgments,
    new_id,
    record_window_start,
    save_judgment,
    window_start,
)
from analyzer.store.tables import AnalysisWindow

KEY = WindowKey("shop", "checkout", "http", "abc123", "def456")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _record(key: WindowKey = KEY, verdict: str = "pass", minutes: int = 0) -> JudgmentRecord:
    return JudgmentRecord(
        id=new_id(),
        created_at=T0 + timedelta(minutes=minutes),
        key=key,
        verdict=verdict,
        score=100.0 if verdict == "pass" else 0.0,
        steps=minutes,
        window_start=1_700_000_000,
        window_end=1_700_000_000 + 60 * minutes,
        step_seconds=60,
        input_digest="sha256:" + "0" * 64,
        body={"verdict": verdict, "nested": {"reasons": ["a", "b"]}},
    )


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    db.migrate()
    db.migrate()  # idempotent: a second replica starting finds nothing to do
    yield db
    db.dispose()


def test_migrations_create_the_tables(database):
    tables = set(inspect(database.engine).get_table_names())
    assert {"judgments", "analysis_windows", "alembic_version"} <= tables


def test_judgments_round_trip_and_filter(database):
    records = [
        _record(verdict="inconclusive", minutes=1),
        _record(verdict="pass", minutes=2),
        _record(WindowKey("shop", "cart", "http", "aaa", "bbb"), verdict="fail", minutes=3),
    ]
    with database.session() as session:
        for record in records:
            save_judgment(session, record)
    with database.session() as session:
        assert get_judgment(session, records[1].id) == records[1]
        assert get_judgment(session, new_id()) is None
        newest_first = list_judgments(session, JudgmentFilter())
        assert [r.id for r in newest_first] == [r.id for r in reversed(records)]
        assert [r.id for r in list_judgments(session, JudgmentFilter(rollout="checkout"))] == [
            records[1].id,
            records[0].id,
        ]
        assert [r.id for r in list_judgments(session, JudgmentFilter(verdict="fail"))] == [records[2].id]
        window = JudgmentFilter(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=3))
        assert [r.id for r in list_judgments(session, window)] == [records[1].id]
        assert len(list_judgments(session, JudgmentFilter(limit=1, offset=1))) == 1


def test_a_judgment_is_saved_in_the_transaction_of_what_the_session_wrote_before_it(database):
    """A look's counts and its judgment commit together or not at all: a judgment that cannot be saved (here
    an id taken already) leaves nothing of the statements before it in the session."""
    taken = _record()
    with database.session() as session:
        save_judgment(session, taken)
    with database.session() as session:
        session.execute(insert(AnalysisWindow), {**key_columns(KEY), "start": 1_700_000_000, "recorded_at": T0})
        with pytest.raises(IntegrityError):
            save_judgment(session, dataclasses.replace(taken, verdict="fail"))
        session.rollback()
        assert session.scalars(select(AnalysisWindow)).all() == []
        fresh = _record(minutes=5)
        session.execute(insert(AnalysisWindow), {**key_columns(KEY), "start": 1_700_000_000, "recorded_at": T0})
        save_judgment(session, fresh)
    with database.session() as session:
        assert window_start(session, KEY) == 1_700_000_000
        assert get_judgment(session, fresh.id) == fresh
        assert get_judgment(session, taken.id) == taken


def test_window_start_first_writer_wins_under_concurrency(database):
    results: list[int] = []
    barrier = threading.Barrier(8)

    def look(start: int) -> None:
        barrier.wait()
        with database.session() as session:
            results.append(record_window_start(session, KEY, start, T0))

    threads = [threading.Thread(target=look, args=(1_700_000_000 + i * 60,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with database.session() as session:
        held = window_start(session, KEY)
    assert held is not None
    assert results == [held] * 8


def test_urls_are_checked_and_drivers_chosen():
    assert normalise_url("postgresql://u:p@db:5432/ca").startswith("postgresql+psycopg://u:p@db:5432/ca")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(InputError, match="not a database URL"):
        normalise_url("not a url")
    with pytest.raises(InputError, match="'mysql' is not supported"):
        normalise_url("mysql://db/x")


def test_migrations_match_the_models(database):
    """Alembic's autogenerate finds nothing to add: the migrations build exactly the tables the code uses."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from analyzer.store.tables import Base

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # Column comments are documentation in the models; PostgreSQL keeps them, so they would show here.
    changes = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_comment")]
    assert changes == []
