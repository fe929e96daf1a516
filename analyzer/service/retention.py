"""Judgment retention: every look stores a judgment (~12 KB), so old ones are pruned, except those that
promotion evidence references (a gate evaluation must stay recomputable from what it read).

Run ``canary-analyzer judgments prune --older-than 30d`` from a CronJob (or by hand); it deletes in
batches, so that a large backlog never holds one long transaction or all ids in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from analyzer.store.db import Database
from analyzer.store.tables import EvidenceRow, JudgmentRow

BATCH = 1000


@dataclass(frozen=True)
class Pruned:
    deleted: int
    kept_as_evidence: int  # older than the cutoff, but promotion evidence names them


def evidence_judgments(database: Database) -> set[str]:
    """The ids of judgments attached to (or collected by) promotion attempts."""
    with database.session() as s:
        payloads = s.scalars(select(EvidenceRow.payload).where(EvidenceRow.kind == "judgment"))
        return {str(p["judgment_id"]) for p in payloads if isinstance(p, dict) and "judgment_id" in p}


def prune_judgments(database: Database, before: datetime, dry_run: bool = False) -> Pruned:
    """Delete judgments created before ``before`` that no promotion evidence references."""
    keep = evidence_judgments(database)
    deleted = kept = 0
    after = ""
    while True:
        with database.session() as s:
            ids = list(s.scalars(select(JudgmentRow.id).where(JudgmentRow.created_at < before, JudgmentRow.id > after)
                                 .order_by(JudgmentRow.id).limit(BATCH)))
            if not ids:
                return Pruned(deleted, kept)
            doomed = [i for i in ids if i not in keep]
            kept += len(ids) - len(doomed)
            if doomed and not dry_run:
                s.execute(delete(JudgmentRow).where(JudgmentRow.id.in_(doomed)))
                s.commit()
            deleted += len(doomed)
            after = ids[-1]
