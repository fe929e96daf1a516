"""Repository of judgments and analysis windows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analyzer.store.tables import AnalysisWindow, JudgmentRow


@dataclass(frozen=True)
class WindowKey:
    """One canary analysis: the same key on every look and every replica."""

    namespace: str
    rollout: str
    profile: str
    canary_hash: str
    stable_hash: str


@dataclass(frozen=True)
class JudgmentRecord:
    id: str
    created_at: datetime
    key: WindowKey
    verdict: str
    score: float
    steps: int
    window_start: int | None
    window_end: int | None
    step_seconds: int
    input_digest: str
    body: dict[str, Any]


@dataclass(frozen=True)
class JudgmentFilter:
    namespace: str | None = None
    rollout: str | None = None
    canary_hash: str | None = None
    verdict: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


def new_id() -> str:
    return uuid.uuid4().hex


def window_start(session: Session, key: WindowKey) -> int | None:
    row = session.get(AnalysisWindow, key_columns(key))
    return row.start if row is not None else None


def record_window_start(session: Session, key: WindowKey, start: int, now: datetime) -> int:
    """Record the start unless another look (or replica) did first; return the start that holds."""
    session.add(AnalysisWindow(**key_columns(key), start=start, recorded_at=now))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        held = window_start(session, key)
        if held is None:  # pragma: no cover - a row cannot vanish: windows are never deleted
            raise
        return held
    return start


def key_columns(key: WindowKey) -> dict[str, str]:
    """The columns that name a window in every table keyed by it."""
    return {
        "namespace": key.namespace,
        "rollout": key.rollout,
        "profile": key.profile,
        "canary_hash": key.canary_hash,
        "stable_hash": key.stable_hash,
    }


#: Fields a JudgmentRecord and a JudgmentRow share by name.
_SHARED = ("id", "verdict", "score", "steps", "window_start", "window_end", "step_seconds", "input_digest", "body")


_JUDGMENTS = cast(Table, JudgmentRow.__table__)


#: The one Core insert of every look, built once.
_INSERT = insert(_JUDGMENTS)


def save_judgment(session: Session, record: JudgmentRecord) -> None:
    """Insert the judgment and commit. A Core insert: nothing of it is read back in the session, so no ORM
    object, identity map or unit-of-work flush is needed (its CPU was half of a look's store work). It runs
    on the session's connection (in the session's transaction, its waits bounded as every statement's):
    ``Session.execute`` would first ask each ORM plugin whether the statement is theirs (40 us of a look's
    CPU on PostgreSQL, 20 on SQLite)."""
    shared = {name: getattr(record, name) for name in _SHARED}
    session.connection().execute(_INSERT, {**shared, "created_at": record.created_at, **key_columns(record.key)})
    session.commit()


def record_of(row: JudgmentRow) -> JudgmentRecord:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite drops tz
    key = WindowKey(row.namespace, row.rollout, row.profile, row.canary_hash, row.stable_hash)
    return JudgmentRecord(**{name: getattr(row, name) for name in _SHARED}, created_at=created, key=key)


def get_judgment(session: Session, judgment_id: str) -> JudgmentRecord | None:
    row = session.get(JudgmentRow, judgment_id)
    return record_of(row) if row is not None else None


def list_judgments(session: Session, where: JudgmentFilter) -> list[JudgmentRecord]:
    """Newest first."""
    query = select(JudgmentRow)
    for column, value in (
        (JudgmentRow.namespace, where.namespace),
        (JudgmentRow.rollout, where.rollout),
        (JudgmentRow.canary_hash, where.canary_hash),
        (JudgmentRow.verdict, where.verdict),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(JudgmentRow.created_at >= where.since)
    if where.until is not None:
        query = query.where(JudgmentRow.created_at < where.until)
    query = query.order_by(JudgmentRow.created_at.desc(), JudgmentRow.id).limit(where.limit).offset(where.offset)
    return [record_of(row) for row in session.scalars(query)]
