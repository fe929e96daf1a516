"""What every promotion use case shares: the flow's handle, its refusals, the row look-ups (by id or a
unique prefix), and what a transaction leaves for after its commit (deployments, notifications).

Kept apart so that candidates, attempts, evidence, quarantine and evaluation import one small module
instead of each other for the basics.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from analyzer.errors import InputError
from analyzer.promotion.stages import Pipeline, Stage, load_pipeline
from analyzer.rollouts import Kube
from analyzer.service.analysis import Analyzer
from analyzer.service.notify import Notification, Notifier, notifier_for
from analyzer.service.slo import stage_slo
from analyzer.settings import Settings
from analyzer.store.db import Database
from analyzer.store.tables import AttemptRow, CandidateRow, EvaluationRow, EvidenceRow, JudgmentRow

AWAITING_SECOND = "awaiting_second"  # a forced promotion before its second approver confirms it
OPEN_STATES = ("queued", "running", AWAITING_SECOND)


class PromotionError(InputError):
    """A request the flow refuses (the message says why); nothing was written."""


class NotFoundError(PromotionError):
    pass


class ForbiddenError(PromotionError):
    """The caller may not do this (e.g. confirm their own forced promotion); nothing was written."""


class StageBusyError(PromotionError):
    """The stage runs another attempt and the caller asked not to queue."""


@dataclass
class Promotions:
    """The ledger, the stages, and (optionally) the cluster whose Rollouts the stages drive.

    Without ``kube``, or with ``dry_run``, promotions are recorded and planned but nothing in the
    cluster is touched: the plan is stored as ``rollout`` evidence. One instance serves concurrent
    requests (the API's): what a transaction leaves to do after its commit lives on its session.
    """

    database: Database
    pipeline: Pipeline
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    kube: Kube | None = None
    dry_run: bool = False
    slo_reader: Callable[[Stage], dict[str, Any]] | None = None  # the stage's SLOs from Prometheus
    notifier: Notifier | None = None  # webhooks for quarantines, rollbacks, forced promotions (see announce)


def promotions_for(settings: Settings, analyzer: Analyzer, dry_run: bool = False) -> Promotions:
    """The flow as the settings configure it: stages, SLOs from Prometheus, the cluster when it drives Rollouts."""
    kube = Kube(settings.kube_context, settings.kubeconfig) if settings.promotion_drive_rollouts else None
    return Promotions(analyzer.database, load_pipeline(settings.stages_file), kube=kube, dry_run=dry_run,
                      slo_reader=lambda stage: stage_slo(stage, analyzer), notifier=notifier_for(settings))


def plan_deploy(s: Session, attempt_id: str, stage: str) -> None:
    """Set the attempt's images on ``stage``'s Rollout once this transaction has committed (see
    :func:`planned`): kept on the session, so a rolled-back plan is never deployed and concurrent
    requests never deploy each other's."""
    s.info.setdefault("to_deploy", []).append((attempt_id, stage))


def planned(s: Session) -> list[tuple[str, str]]:
    """The (attempt, stage) deployments the transaction of ``s`` planned, taken off it."""
    return list(s.info.pop("to_deploy", []))


def announce(p: Promotions, s: Session, notification: Notification) -> None:
    """Send ``notification`` when the transaction of ``s`` commits (never if it rolls back); sending only
    queues it, so the commit and the answer after it do not wait for any receiver."""
    notifier = p.notifier
    if notifier is None or not notifier.wants(notification.event):
        return
    pending: list[Notification] = s.info.setdefault("notifications", [])
    if not pending:
        def sent(session: Session) -> None:
            for queued in session.info.pop("notifications", []):
                notifier.send(queued)

        event.listen(s, "after_commit", sent, once=True)
        event.listen(s, "after_rollback", lambda session: session.info.pop("notifications", None), once=True)
    pending.append(notification)


class AmbiguousIdError(InputError):
    """An id prefix that more than one record starts with; the message lists them (400 over the API)."""


#: An id may be shortened to a unique prefix of this many characters or more (kubectl-like habits: copy
#: the first dozen characters); attempt and evaluation ids are time-ordered, so prefixes of records made
#: in the same second need more characters than candidates' hashes do.
MIN_PREFIX = 8
_SHOWN = 5  # matches an ambiguity error names
_HEX = re.compile(r"^[0-9a-f]+$")
Row = TypeVar("Row", CandidateRow, AttemptRow, EvaluationRow, EvidenceRow, JudgmentRow)


def by_id(session: Session, table: type[Row], given: str, what: str) -> Row:
    """The row whose id is ``given``, or the only one whose id starts with it (8+ lower-case hex characters,
    compared as text: never a pattern, the same on SQLite and PostgreSQL). Several → :class:`AmbiguousIdError`
    naming them; none → :class:`NotFoundError`."""
    row = session.get(table, given)
    if row is not None:
        return row
    if len(given) >= MIN_PREFIX and _HEX.match(given):  # every id is lower-case hex, on every backend
        span = (table.id >= given, table.id < given + "g")  # 'g' sorts after every hex digit: the key's index
        ids = list(session.scalars(select(table.id).where(*span, table.id.startswith(given, autoescape=True))
                                   .order_by(table.id).limit(_SHOWN + 1)))
        if len(ids) == 1:
            found = session.get(table, ids[0])
            assert found is not None
            return found
        if ids:
            more = " and more" if len(ids) > _SHOWN else ""
            raise AmbiguousIdError(f"{what} id prefix {given!r} is ambiguous: it starts {', '.join(ids[:_SHOWN])}"
                                   f"{more}; give more characters")
        raise NotFoundError(f"no {what} {given!r}")
    raise NotFoundError(f"no {what} {given!r} (an id prefix needs {MIN_PREFIX} or more characters)")


def find_candidate(session: Session, candidate_id: str) -> CandidateRow:
    return by_id(session, CandidateRow, candidate_id, "candidate")


def find_attempt(session: Session, attempt_id: str) -> AttemptRow:
    return by_id(session, AttemptRow, attempt_id, "promotion attempt")


def set_state(s: Session, candidate: CandidateRow, state: str) -> None:
    """Compare-and-swap on the candidate's version: a concurrent change makes this transaction fail."""
    done = s.execute(
        update(CandidateRow)
        .where(CandidateRow.id == candidate.id, CandidateRow.row_version == candidate.row_version)
        .values(state=state, row_version=candidate.row_version + 1)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise PromotionError(f"candidate {candidate.id[:12]} changed concurrently; retry")
    s.refresh(candidate)


def content_digest(payload: dict[str, Any]) -> str:
    """SHA-256 of a payload's canonical JSON: evidence is stored once per content and checked by it."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the ledger writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
