"""Read-only views of the ledger: candidates, attempts (with evidence and evaluations), quarantines,
the pipeline's status — as plain dicts, the shape the API and the CLI print."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from analyzer.service.promotion.records import Promotions, by_id, find_attempt, find_candidate, utc
from analyzer.store.tables import AttemptRow, CandidateRow, EvaluationRow, EvidenceRow, QuarantineRow, StageStateRow


def candidate_view(row: CandidateRow) -> dict[str, Any]:
    return {"id": row.id, "alias": row.alias, "state": row.state, "artifacts": row.artifacts, "fixes": row.fixes,
            "source": row.source, "created_at": utc(row.created_at).isoformat(), "created_by": row.created_by}


def attempt_view(row: AttemptRow) -> dict[str, Any]:
    when = {k: utc(v).isoformat() if v else None
            for k, v in (("requested_at", row.requested_at), ("started_at", row.started_at),
                         ("finished_at", row.finished_at))}
    return {"id": row.id, "candidate_id": row.candidate_id, "from_stage": row.from_stage, "to_stage": row.to_stage,
            "kind": row.kind, "state": row.state, "requested_by": row.requested_by, **when,
            "justification": row.justification, "second_approver": row.second_approver, "reason": row.reason}


def quarantine_view(row: QuarantineRow) -> dict[str, Any]:
    return {"id": row.id, "candidate_id": row.candidate_id, "stage": row.stage, "attempt_id": row.attempt_id,
            "reason_code": row.reason_code, "detail": row.detail, "impact": row.impact,
            "evidence_ids": row.evidence_ids, "state": row.state, "created_by": row.created_by,
            "created_at": utc(row.created_at).isoformat()}


def evidence_view(row: EvidenceRow) -> dict[str, Any]:
    return {"id": row.id, "attempt_id": row.attempt_id, "candidate_id": row.candidate_id, "stage": row.stage,
            "kind": row.kind, "sha256": row.sha256, "payload": row.payload,
            "collected_at": utc(row.collected_at).isoformat(), "collected_by": row.collected_by}


def evaluation_view(row: EvaluationRow) -> dict[str, Any]:
    """A gate evaluation with what it read (``inputs``: evidence ids and digests, for ``recompute``)."""
    return {"id": row.id, "attempt_id": row.attempt_id, "candidate_id": row.candidate_id, "stage": row.stage,
            "verdict": row.verdict, "policy_hash": row.policy_hash, "checks": row.checks, "inputs": row.inputs,
            "evaluated_at": utc(row.evaluated_at).isoformat()}


def show_evidence(p: Promotions, evidence_id: str) -> dict[str, Any]:
    with p.database.session() as s:
        return evidence_view(by_id(s, EvidenceRow, evidence_id, "evidence"))


def show_candidate(p: Promotions, candidate_id: str) -> dict[str, Any]:
    with p.database.session() as s:
        row = find_candidate(s, candidate_id)
        attempts = s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == row.id).order_by(AttemptRow.id))
        return {**candidate_view(row), "attempts": [attempt_view(a) for a in attempts]}


def show_attempt(p: Promotions, attempt_id: str) -> dict[str, Any]:
    with p.database.session() as s:
        row = find_attempt(s, attempt_id)
        evidence = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == row.id))
        evaluations = s.scalars(select(EvaluationRow).where(EvaluationRow.attempt_id == row.id)
                                .order_by(EvaluationRow.id))
        return {**attempt_view(row), "evidence": [evidence_view(e) for e in evidence],
                "evaluations": [evaluation_view(v) for v in evaluations]}


def status(p: Promotions) -> dict[str, Any]:
    """The pipeline: per stage what runs, what is verifying, what waits; recent candidates; quarantines."""
    with p.database.session() as s:
        stages = []
        for stage in p.pipeline.stages:
            row = s.get(StageStateRow, stage.name)
            queued = s.scalars(select(AttemptRow).where(AttemptRow.to_stage == stage.name,
                                                        AttemptRow.state == "queued")).all()
            active = s.get(AttemptRow, row.active_attempt_id) if row and row.active_attempt_id else None
            stages.append({
                "stage": stage.name,
                "rollout": stage.rollout.model_dump() if stage.rollout else None,
                "current": row.current_candidate_id if row else None,
                "last_good": row.last_good_candidate_id if row else None,
                "verifying": attempt_view(active) if active else None,
                "queued": [a.id for a in queued],
                "policy_hash": stage.policy_hash(),
            })
        candidates = s.scalars(select(CandidateRow).order_by(CandidateRow.created_at.desc()).limit(20)).all()
        quarantined = s.scalars(select(QuarantineRow).where(QuarantineRow.state == "active")).all()
        return {"stages": stages, "candidates": [candidate_view(c) for c in candidates],
                "quarantined": [quarantine_view(q) for q in quarantined]}


def quarantine_records(p: Promotions, limit: int = 50, offset: int = 0,
                       reason_code: str | None = None) -> list[dict[str, Any]]:
    with p.database.session() as s:
        query = select(QuarantineRow).order_by(QuarantineRow.created_at.desc(), QuarantineRow.id.desc())
        if reason_code:
            query = query.where(QuarantineRow.reason_code == reason_code)
        return [quarantine_view(q) for q in s.scalars(query.limit(limit).offset(offset))]


def quarantine_statistics(p: Promotions) -> dict[str, Any]:
    with p.database.session() as s:
        rows = s.scalars(select(QuarantineRow)).all()
        candidates = s.scalars(select(CandidateRow)).all()
    by_reason: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    for q in rows:
        by_reason[q.reason_code] = by_reason.get(q.reason_code, 0) + 1
        by_stage[q.stage or "manual"] = by_stage.get(q.stage or "manual", 0) + 1
    return {"total": len(rows), "active": sum(q.state == "active" for q in rows), "by_reason": by_reason,
            "by_stage": by_stage, "candidates": len(candidates),
            "quarantine_rate": len(rows) / len(candidates) if candidates else 0.0}


def running_attempts(p: Promotions) -> list[str]:
    with p.database.session() as s:
        return list(s.scalars(select(AttemptRow.id).where(AttemptRow.state == "running").order_by(AttemptRow.id)))
