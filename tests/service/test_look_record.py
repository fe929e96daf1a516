"""Recording a look's counts: what the store holds after two looks of one window that commit one after the
other, on SQLite and the real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import analyzer.service.look_record as look_record
from analyzer.judging.digest import measurement_digest
from analyzer.model import Policy
from analyzer.service.look_record import Counts
from analyzer.service.offline import Regression, demo_scenario
from analyzer.service.reports import chunk_counts
from analyzer.sources.simulate import simulate
from analyzer.store import Database, WindowKey
from analyzer.store.measurements import get_measurement, save_measurement
from tests.support.stored import stored

KEY = WindowKey("shop", "checkout", "http", "abc123", "def456")
START, STEPS = 1_700_000_000, 20
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OURS = simulate(demo_scenario(Regression.ERRORS, STEPS), 7)
LATE = simulate(demo_scenario(Regression.ERRORS, STEPS), 8)  # another replica's counts of the same steps


def test_the_store_holds_the_counts_of_the_look_that_commits_last(database_url, monkeypatch):
    """A look that changed nothing asks the store which re-read chunks hold its counts while it holds its
    window's row: another replica's write of that window waits until the look commits, and then replaces
    what the look left; so whichever commits last, the store holds its counts."""
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        save_measurement(session, stored(KEY, START, OURS, Policy(), {}, NOW))
        session.commit()
    other_done = threading.Event()

    def other_replica() -> None:
        with database.session() as session:
            save_measurement(session, stored(KEY, START, LATE, Policy(), {}, NOW, STEPS - 3))
            session.commit()
        other_done.set()

    held = look_record.chunks_held

    def asking(*args, **kwargs):
        answer = held(*args, **kwargs)  # the store holds our chunk 1: nothing to send
        threading.Thread(target=other_replica).start()
        assert not other_done.wait(1.0)  # it waits for this look's lock on the window's row
        return answer

    monkeypatch.setattr(look_record, "chunks_held", asking)
    counts = Counts(KEY, START, OURS, measurement_digest(OURS), Policy(), {}, NOW, STEPS, STEPS - 3)
    with database.session() as session:
        counts.save(session)
        session.commit()
    assert other_done.wait(30)
    with database.session() as session:
        after = get_measurement(session, KEY, START)
    assert after is not None and after.chunks == {0: chunk_counts(OURS, [0])[0], 1: chunk_counts(LATE, [1])[1]}
    database.dispose()
