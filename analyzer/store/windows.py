"""Repository of window boundaries that every replica must agree on: a window's start after a retry,
and when each Rollout step's analysis began in it.

Both are first-writer-wins: an insert that loses the race (or an update whose expected start no
longer holds) reads back what the other look recorded, so two replicas answering looks of the same
window at once judge the same steps.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analyzer.store.judgments import WindowKey, key_columns, window_start
from analyzer.store.tables import AnalysisStepRow, AnalysisWindow


def step_first_look(session: Session, key: WindowKey, start: int, step_index: int, now: int) -> int:
    """When step ``step_index`` of the window starting at ``start`` was first looked at: ``now`` unless a
    look (here or on another replica) recorded it before."""
    ids = {**key_columns(key), "window_start": start, "step_index": step_index}
    held = session.get(AnalysisStepRow, ids)
    if held is not None:
        return held.first_look
    session.add(AnalysisStepRow(**ids, first_look=now))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raced = session.get(AnalysisStepRow, ids)
        if raced is None:  # pragma: no cover - rows are never deleted
            raise
        return raced.first_look
    return now


def move_window_start(session: Session, key: WindowKey, old: int, new: int) -> int:
    """Start the window again at ``new`` if it still starts at ``old``; return the start that holds."""
    where = [getattr(AnalysisWindow, name) == value for name, value in key_columns(key).items()]
    session.execute(update(AnalysisWindow).where(*where, AnalysisWindow.start == old).values(start=new))
    session.commit()
    held = window_start(session, key)
    if held is None:  # pragma: no cover - windows are never deleted
        raise LookupError(f"no window recorded for {key}")
    return held
