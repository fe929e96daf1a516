"""Repository of window measurements: the per-step counts a window's report pages are drawn from.

A window's counts only grow: each look fetches the steps not seen yet and judges the whole window,
so the newest measurement holds every earlier look's as a prefix. One row per window says how many
steps the newest look judged (with its policy and what it could not judge); a judgment of the window
names how many steps it read (``JudgmentRecord.steps``), and its report takes that prefix.

The counts themselves are kept in chunks of :data:`CHUNK_STEPS` steps, and a look writes only the
chunks from its first new or changed step on (:attr:`StoredMeasurement.chunks`): its cost is that of a
chunk or two, not of the whole window. Each write is one upsert per row that keeps the longer look's
(the window row by its ``steps``, a chunk by the ``through`` of the look that wrote it), so two replicas
answering looks of one window at once cannot replace longer counts by shorter ones. A chunk names the
input digest of the measurement it came from (revision 0007), so that a look of as many steps replaces
it only when its digest differs, and a look can ask which chunks hold its own counts already
(:func:`chunks_held`) instead of sending them. Rows written before chunks (revision 0006) keep the whole
measurement in the window row and are read as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Insert, Select, and_, bindparam, literal_column, null, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from analyzer.store.judgments import WindowKey, key_columns
from analyzer.store.tables import WindowMeasurementChunkRow, WindowMeasurementRow

#: Steps per stored chunk: a look at a window of any length writes at most this many steps (plus the
#: re-read steps when they reach back into the chunk before), and a day-long window is 90 rows.
CHUNK_STEPS = 16


@dataclass(frozen=True)
class StoredMeasurement:
    """A window's latest look as stored: plain JSON, validated by whoever reads it.

    ``chunks``: chunk index -> a measurement's JSON of that chunk's steps. Written: the chunks from the
    first step that may differ from what is stored; read: every chunk of the window (``{0: whole}`` for a
    row written before chunks)."""

    key: WindowKey
    window_start: int
    steps: int
    updated_at: datetime
    chunks: dict[int, dict[str, Any]]
    policy: dict[str, Any]
    unavailable: dict[str, str]
    #: The input digest of the whole measurement the written chunks come from (None when read).
    source_digest: str | None = None


@functools.cache
def _upsert_statement(
    dialect: str, row: type[WindowMeasurementRow | WindowMeasurementChunkRow], longer: str, nulls: tuple[str, ...],
    content: str | None,
) -> Insert:
    """Insert a row, or replace the stored one where its ``longer`` column is at most this one's: built once per
    dialect and table (building it was half of a look's store CPU), its values bound at each execution, the
    ``nulls`` columns SQL NULL (a JSON column's bound None is JSON ``null``). With ``content`` (a text column:
    a chunk's source digest), a row whose ``longer`` is equal and whose ``content`` is the same is left as it
    is: rewriting it would change nothing but cost the database a new row version (and its TOAST and WAL)."""
    table = row.__table__
    keys = {column.name for column in row.__mapper__.primary_key}
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table).values(dict.fromkeys(nulls, null()))
    stored, offered = table.c[longer], insert.excluded[longer]
    replace = stored <= offered
    if content is not None:
        changed = table.c[content].is_distinct_from(insert.excluded[content])
        replace = or_(stored < offered, and_(stored == offered, changed))
    return cast(Insert, insert.on_conflict_do_update(
        index_elements=sorted(keys),
        set_={column.name: insert.excluded[column.name] for column in table.columns if column.name not in keys},
        where=replace,
    ).returning(literal_column("1")))  # a row for each row written: drivers' rowcount is -1 for an upsert


def _upsert(session: Session, row: type[WindowMeasurementRow | WindowMeasurementChunkRow], values: dict[str, Any],
            longer: str, nulls: tuple[str, ...] = (), content: str | None = None) -> int:
    """Insert ``values`` (with ``nulls``, every column of ``row``), or replace the stored row where its ``longer``
    column is at most this one's (and, with ``content``, that column differs when ``longer`` is equal); how
    many rows it wrote (0 or 1)."""
    statement = _upsert_statement(session.get_bind().dialect.name, row, longer, nulls, content)
    return len(session.connection().execute(statement, values).all())  # Core: no ORM plugin asked (~40 us)


def save_measurement(session: Session, stored: StoredMeasurement) -> int:
    """Store the window's look and its chunks, each replacing a stored one only if it holds as many steps or more,
    in the caller's transaction (a look commits it with its judgment: one transaction a look); how many chunks
    it wrote. The window's row goes first: its upsert locks it (on PostgreSQL even when it leaves it as it is;
    SQLite's write lock is the database's) until the transaction ends, so that two looks of one window write
    one after the other, and what a look reads of the window's chunks after it (:func:`chunks_held`) stays so
    until it commits."""
    _upsert(session, WindowMeasurementRow, {
        **key_columns(stored.key),
        "window_start": stored.window_start,
        "steps": stored.steps,
        "updated_at": stored.updated_at,
        "policy": stored.policy,
        "unavailable": stored.unavailable,
    }, "steps", nulls=("measurement",))  # SQL NULL, not JSON null: the counts are in the chunks
    return save_chunks(session, stored)


def save_chunks(session: Session, stored: StoredMeasurement) -> int:
    """Store the look's chunks (after its window's row: :func:`save_measurement`); how many it wrote. A chunk
    stored already from a measurement of these steps with this ``source_digest`` holds these counts, and is left
    as it is: the digests are compared, not the counts (a chunk of equal counts from a measurement that differs
    elsewhere is written again, which changes nothing)."""
    window = {**key_columns(stored.key), "window_start": stored.window_start}
    return sum(
        _upsert(session, WindowMeasurementChunkRow, {**window, "chunk": chunk, "through": stored.steps,
                                                     "counts": counts, "source_digest": stored.source_digest},
                "through", content="source_digest")
        for chunk, counts in stored.chunks.items()
    )


def get_measurement(session: Session, key: WindowKey, window_start: int) -> StoredMeasurement | None:
    window = {**key_columns(key), "window_start": window_start}
    row = session.get(WindowMeasurementRow, window)
    if row is None:
        return None
    if row.measurement is not None:
        chunks = {0: row.measurement}
    else:
        where = [getattr(WindowMeasurementChunkRow, name) == value for name, value in window.items()]
        found = session.execute(select(WindowMeasurementChunkRow.chunk, WindowMeasurementChunkRow.counts).where(*where))
        chunks = dict(found.all())
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)  # SQLite drops tz
    return StoredMeasurement(
        key=key,
        window_start=row.window_start,
        steps=row.steps,
        updated_at=updated,
        chunks=chunks,
        policy=row.policy,
        unavailable=row.unavailable,
    )


@functools.cache
def _held_statement() -> Select[Any]:
    """The chunks of a window among ``chunks`` written by a look of ``through`` steps with ``digest``: built once,
    its values bound at each execution (building it cost as much as running it)."""
    row = WindowMeasurementChunkRow
    table = row.__table__
    window = [column == bindparam(column.name) for column in row.__mapper__.primary_key if column.name != "chunk"]
    return select(table.c.chunk).where(
        *window, table.c.chunk.in_(bindparam("chunks", expanding=True)),
        table.c.through == bindparam("through"), table.c.source_digest == bindparam("digest"),
    )


def chunks_held(session: Session, key: WindowKey, window_start: int, chunks: Sequence[int], through: int,
                digest: str) -> set[int]:
    """Of ``chunks``, those the store holds as a look of ``through`` steps whose measurement had ``digest`` wrote
    them: the very counts of a measurement with that digest, which need not be sent again."""
    if not chunks:
        return set()
    values = {**key_columns(key), "window_start": window_start, "chunks": list(chunks), "through": through,
              "digest": digest}
    return {int(chunk) for chunk in session.connection().execute(_held_statement(), values).scalars()}
