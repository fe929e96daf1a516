"""Recording a look: its judgment, with its window's counts in the same transaction, or the reason it was not.

A look's counts go to the store from the first step that may differ from what the process stored
(:class:`~analyzer.service.reports.StoredSteps`), and so do those of the steps it read again that the store
holds from another measurement (:meth:`Counts.to_store`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from analyzer.model import Judgment, Measurement, Policy
from analyzer.service.look_store import StoreUnavailableError
from analyzer.service.reports import chunk_counts, chunks_from, measurement_steps, stored_measurement
from analyzer.sources.prometheus import Window
from analyzer.store import JudgmentRecord, WindowKey
from analyzer.store.judgments import new_id, save_judgment
from analyzer.store.measurements import chunks_held, save_chunks, save_measurement


@dataclass(frozen=True)
class Counts:
    """A look's window counts to store: the first step of them that may differ from what this process stored
    (``changed_from``), and the first this look read from Prometheus again (``read_from``), which another
    replica may have stored otherwise since (a late sample it saw)."""

    key: WindowKey
    window_start: int
    measurement: Measurement
    digest: str  # the measurement's input digest
    policy: Policy
    unavailable: dict[str, str]
    now: datetime
    changed_from: int
    read_from: int

    def save(self, session: Session) -> None:
        """Store the chunks from ``changed_from`` on, and those from ``read_from`` on that the store does not hold
        from a measurement with this digest: a look asks the store which chunks of its re-read steps are its own
        (after its window's row, whose lock keeps that answer true until it commits) instead of sending them
        all to be compared."""
        stored = stored_measurement(self.key, self.window_start, self.measurement, self.policy, self.unavailable,
                                    self.now, chunks_from(self.changed_from, self.steps), self.digest)
        save_measurement(session, stored)
        asked = [chunk for chunk in chunks_from(self.read_from, stored.steps) if chunk not in stored.chunks]
        missing = set(asked) - chunks_held(session, self.key, self.window_start, asked, stored.steps, self.digest)
        if missing:
            save_chunks(session, replace(stored, chunks=chunk_counts(self.measurement, sorted(missing))))

    @property
    def steps(self) -> int:
        return measurement_steps(self.measurement)


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
        counts.save(session)
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
