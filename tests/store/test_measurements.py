"""Window measurements on SQLite and the real PostgreSQL: one row per window, the longest measurement kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, inspect, select

from analyzer.model import Policy
from analyzer.service.offline import Regression, demo_scenario
from analyzer.service.reports import keep_measurement, stored_measurement
from analyzer.sources.simulate import simulate
from analyzer.store import Database, WindowKey
from analyzer.store.measurements import get_measurement
from analyzer.store.tables import WindowMeasurementRow

KEY = WindowKey("shop", "checkout", "http", "abc123", "def456")
START = 1_700_000_000
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MEASUREMENT = simulate(demo_scenario(Regression.ERRORS, 12), 7)


def _keep(database: Database, steps: int, key: WindowKey = KEY, start: int = START) -> None:
    keep_measurement(database, stored_measurement(key, start, MEASUREMENT.head(steps), Policy(), {"latency": "stale"},
                                                  NOW))


def test_the_migration_creates_the_table(database):
    assert "window_measurements" in inspect(database.engine).get_table_names()


def test_a_window_keeps_one_row_with_its_longest_measurement(database):
    for steps in (3, 8, 5):  # a slow replica's shorter look arrives last: it must not replace the longer one
        _keep(database, steps)
    _keep(database, 4, start=START + 3600)  # the canary's traffic came back: a new window
    with database.session() as session:
        stored = get_measurement(session, KEY, START)
        rows = session.scalar(select(func.count()).select_from(WindowMeasurementRow))
        assert get_measurement(session, KEY, START + 60) is None
    assert rows == 2
    assert stored is not None and stored.steps == 8
    assert stored.measurement == MEASUREMENT.head(8).model_dump(mode="json")
    assert stored.policy == Policy().model_dump(mode="json") and stored.unavailable == {"latency": "stale"}
    assert stored.updated_at == NOW


def test_concurrent_looks_of_one_window_keep_the_longest(database):
    barrier = threading.Barrier(6)

    def look(steps: int) -> None:
        barrier.wait()
        _keep(database, steps)

    threads = [threading.Thread(target=look, args=(steps,)) for steps in (2, 12, 4, 6, 9, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.session() as session:
        stored = get_measurement(session, KEY, START)
    assert stored is not None and stored.steps == 12
