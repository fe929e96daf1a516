"""Window boundaries on SQLite and the real PostgreSQL: a step's first look and a moved window start are
first-writer-wins, so replicas answering at once agree."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import inspect

from analyzer.store import WindowKey
from analyzer.store.judgments import record_window_start, window_start
from analyzer.store.windows import move_window_start, step_first_look

KEY = WindowKey("shop", "checkout", "http", "abc123", "def456")
START = 1_700_000_000


def test_the_migration_creates_the_table(database):
    assert "analysis_steps" in inspect(database.engine).get_table_names()


def test_a_steps_first_look_holds_per_window_and_step(database):
    with database.session() as session:
        assert step_first_look(session, KEY, START, 2, START + 120) == START + 120
        assert step_first_look(session, KEY, START, 2, START + 600) == START + 120
        assert step_first_look(session, KEY, START, 4, START + 700) == START + 700
        assert step_first_look(session, KEY, START + 900, 2, START + 1000) == START + 1000  # a new window


def test_concurrent_first_looks_agree(database):
    seen: list[int] = []

    def look(now: int) -> None:
        with database.session() as session:
            seen.append(step_first_look(session, KEY, START, 2, now))

    threads = [threading.Thread(target=look, args=(START + i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1


def test_the_window_start_moves_only_from_the_start_expected(database):
    with database.session() as session:
        record_window_start(session, KEY, START, datetime.now(UTC))
        assert move_window_start(session, KEY, START, START + 960) == START + 960
        assert move_window_start(session, KEY, START, START + 1200) == START + 960  # another look moved it first
        assert window_start(session, KEY) == START + 960
