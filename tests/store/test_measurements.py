"""Window measurements on SQLite and the real PostgreSQL: one row per window, the longest look kept, and
its counts in chunks of which a look writes only those it changed; rows from before chunks stay readable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select

from analyzer.judging.digest import measurement_digest
from analyzer.model import Policy
from analyzer.model.steps import from_chunks
from analyzer.service.offline import Regression, demo_scenario
from analyzer.service.reports import keep_measurement
from analyzer.sources.simulate import simulate
from analyzer.store import Database, WindowKey
from analyzer.store.measurements import CHUNK_STEPS, StoredMeasurement, get_measurement
from analyzer.store.tables import WindowMeasurementChunkRow, WindowMeasurementRow
from tests.support.stored import stored

KEY = WindowKey("shop", "checkout", "http", "abc123", "def456")
START = 1_700_000_000
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STEPS = 3 * CHUNK_STEPS + 5
MEASUREMENT = simulate(demo_scenario(Regression.ERRORS, STEPS), 7)


def _keep(database: Database, steps: int, key: WindowKey = KEY, start: int = START, changed_from: int = 0) -> None:
    keep_measurement(database, stored(key, start, MEASUREMENT.head(steps), Policy(), {"latency": "stale"},
                                                  NOW, changed_from))


def _read(database: Database, key: WindowKey = KEY, start: int = START) -> StoredMeasurement:
    with database.session() as session:
        stored = get_measurement(session, key, start)
    assert stored is not None
    return stored


def _chunks(database: Database) -> dict[int, int]:
    """Each stored chunk and the steps of the look that wrote it."""
    with database.session() as session:
        return dict(session.execute(select(WindowMeasurementChunkRow.chunk, WindowMeasurementChunkRow.through)).all())


def test_the_migration_creates_the_tables(database):
    names = inspect(database.engine).get_table_names()
    assert "window_measurements" in names and "window_measurement_chunks" in names


def test_a_window_keeps_one_row_with_its_longest_measurement(database):
    for steps in (3, 8, 5):  # a slow replica's shorter look arrives last: it must not replace the longer one
        _keep(database, steps)
    _keep(database, 4, start=START + 3600)  # the canary's traffic came back: a new window
    with database.session() as session:
        rows = session.scalar(select(func.count()).select_from(WindowMeasurementRow))
        assert get_measurement(session, KEY, START + 60) is None
    assert rows == 2
    stored = _read(database)
    assert stored.steps == 8
    assert from_chunks(stored.chunks, CHUNK_STEPS, stored.steps) == MEASUREMENT.head(8)
    assert stored.policy == Policy().model_dump(mode="json") and stored.unavailable == {"latency": "stale"}
    assert stored.updated_at == NOW


def test_a_look_writes_only_the_chunks_from_its_first_changed_step():
    written = stored(KEY, START, MEASUREMENT, Policy(), {}, NOW, 2 * CHUNK_STEPS + 3)
    assert sorted(written.chunks) == [2, 3]  # the re-read steps' chunk and the newest one
    assert sorted(stored(KEY, START, MEASUREMENT, Policy(), {}, NOW).chunks) == [0, 1, 2, 3]


def test_looks_that_write_their_new_steps_read_back_as_the_whole_window(database):
    _keep(database, 2 * CHUNK_STEPS - 1)
    for steps in range(2 * CHUNK_STEPS, STEPS + 1):  # each look: its new step and 3 re-read ones
        _keep(database, steps, changed_from=steps - 4)
    stored = _read(database)
    assert stored.steps == STEPS and from_chunks(stored.chunks, CHUNK_STEPS, STEPS) == MEASUREMENT
    assert _chunks(database) == {0: 2 * CHUNK_STEPS - 1, 1: 2 * CHUNK_STEPS + 3, 2: 3 * CHUNK_STEPS + 3, 3: STEPS}
    head = from_chunks(stored.chunks, CHUNK_STEPS, CHUNK_STEPS + 2)  # what an earlier look's report shows
    assert head == MEASUREMENT.head(CHUNK_STEPS + 2)


def test_a_shorter_look_replaces_no_chunk(database):
    _keep(database, STEPS)
    _keep(database, STEPS - 10, changed_from=0)  # a slow replica's look of fewer steps, all its chunks
    assert set(_chunks(database).values()) == {STEPS}
    assert from_chunks(_read(database).chunks, CHUNK_STEPS, STEPS) == MEASUREMENT


def test_concurrent_looks_of_one_window_keep_the_longest(database):
    barrier = threading.Barrier(6)

    def look(steps: int) -> None:
        barrier.wait()
        _keep(database, steps)

    threads = [threading.Thread(target=look, args=(steps,)) for steps in (2, 40, 4, 30, 9, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = _read(database)
    assert stored.steps == 40 and from_chunks(stored.chunks, CHUNK_STEPS, 40) == MEASUREMENT.head(40)


def _alembic(database: Database, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("analyzer.store") / "migrations"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_counts_stored_before_chunks_stay_readable_and_survive_a_downgrade(database_url):
    database = Database(database_url)
    _alembic(database, "0005_token_scopes")
    legacy = sa.table("window_measurements", *map(sa.column, ("namespace", "rollout", "profile", "canary_hash",
                      "stable_hash", "window_start", "steps", "updated_at")), sa.column("measurement", sa.JSON),
                      sa.column("policy", sa.JSON), sa.column("unavailable", sa.JSON))
    whole = MEASUREMENT.head(20).model_dump(mode="json")
    with database.engine.begin() as connection:
        connection.execute(sa.insert(legacy).values(
            namespace=KEY.namespace, rollout=KEY.rollout, profile=KEY.profile, canary_hash=KEY.canary_hash,
            stable_hash=KEY.stable_hash, window_start=START, steps=20, updated_at=NOW, measurement=whole,
            policy=Policy().model_dump(mode="json"), unavailable={},
        ))
    database.migrate()
    stored = _read(database)
    assert stored.steps == 20 and from_chunks(stored.chunks, CHUNK_STEPS, 20) == MEASUREMENT.head(20)
    _keep(database, STEPS, start=START + 3600)  # a window stored in chunks
    _alembic(database, "0005_token_scopes", down=True)
    with database.engine.connect() as connection:
        rows = dict(connection.execute(sa.select(legacy.c.window_start, legacy.c.measurement)).all())
    assert rows == {START: whole, START + 3600: MEASUREMENT.model_dump(mode="json")}
    database.dispose()


def test_a_chunk_stored_already_as_it_is_is_not_written_again_and_any_change_is(database):
    """A repeated look's chunks are the stored ones: left as they are (no new row version); a look of as many
    steps with other counts in them (a late sample) replaces them, and so does a longer look's equal chunk."""
    from analyzer.store.measurements import save_measurement

    def saved(measurement, changed_from: int) -> int:
        row = stored(KEY, START, measurement, Policy(), {}, NOW, changed_from)
        with database.session() as session:
            written = save_measurement(session, row)
            session.commit()
        return written

    assert saved(MEASUREMENT.head(20), 0) == 2
    assert saved(MEASUREMENT.head(20), 17) == 0  # chunk 1 (steps 16-19) again, unchanged
    late = MEASUREMENT.head(20)
    errors = late.metrics["error-rate"]
    events = list(errors.canary.events)  # type: ignore[union-attr]
    events[-1] += 1  # a late sample: one more error in the newest step
    arm = errors.canary.model_copy(update={"events": events})  # type: ignore[union-attr]
    changed = errors.model_copy(update={"canary": arm})
    late = late.model_copy(update={"metrics": {**late.metrics, "error-rate": changed}})
    assert saved(late, 17) == 1
    assert from_chunks(_read(database).chunks, CHUNK_STEPS, 20) == late
    assert saved(late.head(18), 0) == 0  # shorter: refused, as before
    assert saved(MEASUREMENT.head(21), 17) == 1 and _chunks(database) == {0: 20, 1: 21}


def test_the_store_tells_which_chunks_a_measurement_with_a_digest_wrote(database):
    """chunks_held: those written by a look of these steps whose measurement had this digest; not those of
    another digest or length, nor chunks written before revision 0007 (no digest)."""
    from analyzer.store.measurements import chunks_held

    _keep(database, 20)
    digest = measurement_digest(MEASUREMENT.head(20))
    with database.session() as session:
        assert chunks_held(session, KEY, START, [0, 1, 2], 20, digest) == {0, 1}
        assert chunks_held(session, KEY, START, [1], 20, digest) == {1}
        assert chunks_held(session, KEY, START, [], 20, digest) == set()
        assert chunks_held(session, KEY, START, [0, 1], 21, digest) == set()
        assert chunks_held(session, KEY, START, [0, 1], 20, measurement_digest(MEASUREMENT.head(21))) == set()
        assert chunks_held(session, KEY, START + 60, [0, 1], 20, digest) == set()
        session.execute(sa.update(WindowMeasurementChunkRow).where(WindowMeasurementChunkRow.chunk == 0)
                        .values(source_digest=None))
        session.commit()
        assert chunks_held(session, KEY, START, [0, 1], 20, digest) == {1}
    _keep(database, 20, changed_from=0)  # the chunk without a digest is written again, and names it
    with database.session() as session:
        assert chunks_held(session, KEY, START, [0, 1], 20, digest) == {0, 1}


def test_a_writer_that_does_not_know_the_digest_leaves_none_on_the_counts_it_rewrote(database):
    """A pod of the version before 0007 (a rolling upgrade) rewrites a chunk's counts without its digest: the
    trigger clears the digest, so that no look takes those counts for its own; this version's writes keep theirs."""
    from analyzer.store.measurements import chunks_held

    _keep(database, 20)
    digest = measurement_digest(MEASUREMENT.head(20))
    chunks = WindowMeasurementChunkRow.__table__
    with database.engine.begin() as connection:  # the old upsert's update: counts and through, nothing else
        connection.execute(sa.update(chunks).where(chunks.c.chunk == 1).values(
            counts=MEASUREMENT.head(19).model_dump(mode="json"), through=20))
    with database.session() as session:
        assert chunks_held(session, KEY, START, [0, 1], 20, digest) == {0}
        found = select(WindowMeasurementChunkRow.chunk, WindowMeasurementChunkRow.source_digest)
        rows = dict(session.execute(found).all())
    assert rows == {0: digest, 1: None}
    _keep(database, 21)  # a longer look of this version: its own digest stays on every chunk it wrote
    with database.session() as session:
        assert chunks_held(session, KEY, START, [0, 1], 21, measurement_digest(MEASUREMENT.head(21))) == {0, 1}
