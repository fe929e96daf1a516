"""Recording a look: its judgment, with its window's counts in the same transaction, or the reason it was not.

A look's counts go to the store from the first step that may differ from what the process stored
(:class:`~analyzer.service.reports.StoredSteps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from analyzer.model import Judgment
from analyzer.service.look_store import StoreUnavailableError
from analyzer.sources.prometheus import Window
from analyzer.store import JudgmentRecord, WindowKey
from analyzer.store.judgments import new_id, save_judgment
from analyzer.store.measurements import StoredMeasurement, save_measurement


@dataclass(frozen=True)
class Counts:
    """A look's window counts to store, and the first step of them that may differ from what is stored."""

    kept: StoredMeasurement
    changed_from: int


def record_of_look(
    key: WindowKey, judgment: Judgment, window: Window | None, step_seconds: int, now: float
) -> JudgmentRecord:
    return JudgmentRecord(
        id=new_id(),
        created_at=datetime.fromtimestamp(now, UTC),
        key=key,
        verdict=judgment.verdict.value,
        score=judgment.score,
        steps=judgment.steps,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
        step_seconds=step_seconds,
        input_digest=judgment.input_digest,
        body=judgment.model_dump(mode="json"),
    )


def saved(session: Session, record: JudgmentRecord, counts: Counts | None) -> bool:
    """The look's judgment and its window's counts, in one transaction (save_judgment commits it)."""
    if counts is not None:
        save_measurement(session, counts.kept)
    save_judgment(session, record)
    return True


def unrecorded(
    judgment: Judgment, failure: StoreUnavailableError, window: Window | None, step_unknown: bool
) -> Judgment:
    """The judgment with a first reason saying it was judged without the store, and what that changes."""
    reason = f"not recorded ({failure}): judged from Prometheus alone"
    if window is not None:
        began = datetime.fromtimestamp(window.start, UTC)
        reason += f", on the window from the canary's first data ({began:%Y-%m-%d %H:%M} UTC)"
    if step_unknown:
        reason += "; no pass before the database is back (it keeps where this Rollout step's analysis began)"
    return judgment.model_copy(update={"reasons": [reason, *judgment.reasons]})
