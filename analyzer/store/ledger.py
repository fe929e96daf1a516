"""Promotion ledger access: serialised write transactions, ids, stage rows and the audit chain append.

Every promotion write runs in :func:`writing`: on SQLite a ``BEGIN IMMEDIATE`` transaction (one writer
at a time, readers unaffected under WAL), on PostgreSQL a transaction holding an advisory lock. The
audit chain is appended inside the same transaction as the change it records, so a change and its
audit event commit together or not at all, and two writers can never fork the chain.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from analyzer.promotion.audit import FIELDS, GENESIS, chain_hash
from analyzer.store.db import Database
from analyzer.store.tables import AuditRow, StageStateRow

LEDGER_LOCK = 0x6C65_6467  # "ledg"


@contextmanager
def writing(database: Database) -> Iterator[Session]:
    """A serialised write transaction; committed when the block ends, rolled back on an exception."""
    with database.session() as session:
        if database.is_sqlite:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        else:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def new_id() -> str:
    """32 hex characters, ordered by creation time (nanoseconds, then 64 random bits)."""
    return f"{time.time_ns():016x}"[-16:] + secrets.token_hex(8)


def stage_row(session: Session, stage: str) -> StageStateRow:
    row = session.get(StageStateRow, stage)
    if row is None:
        row = StageStateRow(stage=stage, row_version=0)
        session.add(row)
        session.flush()
    return row


def append_audit(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    *,
    candidate_id: str | None = None,
    stage: str | None = None,
    attempt_id: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditRow:
    last = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
    prev, seq = (last.hash, last.seq + 1) if last is not None else (GENESIS, 1)
    event = {
        "event_id": new_id(),
        "ts": now.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "candidate_id": candidate_id,
        "stage": stage,
        "attempt_id": attempt_id,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "data": data or {},
    }
    row = AuditRow(seq=seq, **event, prev_hash=prev, hash=chain_hash(prev, event))
    session.add(row)
    session.flush()
    return row


def _event(row: AuditRow) -> dict[str, Any]:
    return {c: getattr(row, c) for c in ("seq", *FIELDS, "prev_hash", "hash")}


def audit_events(session: Session) -> Iterator[dict[str, Any]]:
    """Every event in ``seq`` order, streamed in batches (the whole log is never held at once)."""
    for row in session.scalars(select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=1000)):
        yield _event(row)


def audit_page(session: Session, limit: int, candidate_prefix: str | None = None,
               before: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` events (oldest first) below ``before``, of candidates whose id starts with
    ``candidate_prefix`` (a literal prefix: ``%`` and ``_`` match themselves); the database pages."""
    query = select(AuditRow)
    if candidate_prefix:
        query = query.where(AuditRow.candidate_id.startswith(candidate_prefix, autoescape=True))
    if before is not None:
        query = query.where(AuditRow.seq < before)
    rows = session.scalars(query.order_by(AuditRow.seq.desc()).limit(limit)).all()
    return [_event(r) for r in reversed(rows)]
