"""Read-only summaries of the ledger for metrics: each Rollout's latest judgment, and counts by label.

Every query is a GROUP BY over indexed columns, cheap enough to run at each Prometheus scrape; the
answers are the same on every replica and every worker, because they come from the shared ledger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from analyzer.store.judgments import JudgmentRecord, record_of
from analyzer.store.tables import AttemptRow, CandidateRow, EvaluationRow, JudgmentRow, QuarantineRow


def latest_judgments(session: Session, since: datetime) -> list[JudgmentRecord]:
    """Each Rollout's newest judgment, for Rollouts judged at or after ``since`` (one per namespace/rollout)."""
    newest = (
        select(JudgmentRow.namespace, JudgmentRow.rollout, func.max(JudgmentRow.created_at).label("latest"))
        .where(JudgmentRow.created_at >= since)
        .group_by(JudgmentRow.namespace, JudgmentRow.rollout)
        .subquery()
    )
    query = select(JudgmentRow).join(
        newest,
        and_(
            JudgmentRow.namespace == newest.c.namespace,
            JudgmentRow.rollout == newest.c.rollout,
            JudgmentRow.created_at == newest.c.latest,
        ),
    )
    found: dict[tuple[str, str], JudgmentRecord] = {}
    for row in session.scalars(query.order_by(JudgmentRow.id)):
        found.setdefault((row.namespace, row.rollout), record_of(row))  # two replicas in the same instant
    return list(found.values())


@dataclass(frozen=True)
class LedgerCounts:
    """Promotion ledger counts, each by its labels."""

    candidates: Counter[tuple[str, str]] = field(default_factory=Counter)  # (state, stage)
    quarantines: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stage, reason)
    evaluations: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stage, verdict)
    forced: Counter[str] = field(default_factory=Counter)  # stage


def _split_state(state: str) -> tuple[str, str]:
    """``in:V3`` -> (``in``, ``V3``); a state without a stage (``stable``, ``quarantined``) has stage ''."""
    kind, _, stage = state.partition(":")
    return kind, stage


def ledger_counts(session: Session) -> LedgerCounts:
    """Candidates by state and stage, quarantines by stage and reason, gate evaluations, forced promotions."""
    counts = LedgerCounts()
    for state, n in session.execute(select(CandidateRow.state, func.count()).group_by(CandidateRow.state)):
        counts.candidates[_split_state(state)] += n
    grouped = select(QuarantineRow.stage, QuarantineRow.reason_code, func.count()).group_by(
        QuarantineRow.stage, QuarantineRow.reason_code
    )
    for stage, reason, n in session.execute(grouped):
        counts.quarantines[(stage or "", reason)] += n
    by_verdict = select(EvaluationRow.stage, EvaluationRow.verdict, func.count()).group_by(
        EvaluationRow.stage, EvaluationRow.verdict
    )
    for stage, verdict, n in session.execute(by_verdict):
        counts.evaluations[(stage, verdict)] += n
    forced = select(AttemptRow.to_stage, func.count()).where(AttemptRow.kind == "forced").group_by(AttemptRow.to_stage)
    for stage, n in session.execute(forced):
        counts.forced[stage] += n
    return counts
