"""Repository of window measurements: the per-step counts a window's report pages are drawn from.

A window's counts only grow: each look fetches the steps not seen yet and judges the whole window,
so the newest measurement holds every earlier look's as a prefix. One row per window is enough;
a judgment of the window names how many steps it read (``JudgmentRecord.steps``), and its report
takes that prefix. The upsert is one statement that keeps the longer measurement, so two replicas
answering looks of one window at once cannot replace a longer copy by a shorter one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from analyzer.store.judgments import WindowKey, key_columns
from analyzer.store.tables import WindowMeasurementRow


@dataclass(frozen=True)
class StoredMeasurement:
    """A window's latest measurement as stored: plain JSON, validated by whoever reads it."""

    key: WindowKey
    window_start: int
    steps: int
    updated_at: datetime
    measurement: dict[str, Any]
    policy: dict[str, Any]
    unavailable: dict[str, str]


def save_measurement(session: Session, stored: StoredMeasurement) -> None:
    """Insert the window's measurement, or replace the stored one if this one has at least as many steps."""
    values = {
        **key_columns(stored.key),
        "window_start": stored.window_start,
        "steps": stored.steps,
        "updated_at": stored.updated_at,
        "measurement": stored.measurement,
        "policy": stored.policy,
        "unavailable": stored.unavailable,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = WindowMeasurementRow.__table__
    keys = [column.name for column in WindowMeasurementRow.__mapper__.primary_key]
    insert = dialect.insert(table).values(**values)
    replace = {name: insert.excluded[name] for name in ("steps", "updated_at", "measurement", "policy", "unavailable")}
    statement = insert.on_conflict_do_update(
        index_elements=keys,
        set_=replace,
        where=table.c.steps <= insert.excluded.steps,
    )
    session.execute(statement)
    session.commit()


def get_measurement(session: Session, key: WindowKey, window_start: int) -> StoredMeasurement | None:
    row = session.get(WindowMeasurementRow, {**key_columns(key), "window_start": window_start})
    if row is None:
        return None
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)  # SQLite drops tz
    return StoredMeasurement(
        key=key,
        window_start=row.window_start,
        steps=row.steps,
        updated_at=updated,
        measurement=row.measurement,
        policy=row.policy,
        unavailable=row.unavailable,
    )
