"""Gate evaluation: run a stage's gate on an attempt's evidence and apply the verdict (pass: the
candidate qualifies, fail: quarantine, three errors in a row: the attempt is blocked); and recompute a
recorded evaluation from its stored inputs, the check the audit relies on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzer.promotion import gates, machine
from analyzer.service.promotion.attempts import deploy, release
from analyzer.service.promotion.evidence import collect
from analyzer.service.promotion.quarantines import quarantine_in
from analyzer.service.promotion.records import (
    PromotionError,
    Promotions,
    by_id,
    content_digest,
    find_attempt,
    find_candidate,
    planned,
    set_state,
    utc,
)
from analyzer.store.ledger import append_audit, new_id, stage_row, writing
from analyzer.store.tables import AttemptRow, CandidateRow, EvaluationRow, EvidenceRow

BLOCK_AFTER_ERRORS = 3
_FAILED_CHECK_REASON = {
    "canary": "canary_analysis_failed",
    "junit": "negative_test_failed",
    "compat": "compat_break",
    "rollout": "rollout_aborted",
    "slo": "slo_breach",
}


def evaluate(p: Promotions, attempt_id: str, actor: str) -> EvaluationRow:
    """Read the stage's Rollout, its canary judgments and SLOs, run the stage's gate, apply the verdict."""
    with p.database.session() as s:
        attempt = find_attempt(s, attempt_id)
        artifacts = find_candidate(s, attempt.candidate_id).artifacts
    if attempt.state == "running":  # _evaluate refuses the others
        collect(p, attempt, artifacts, actor)
    evaluation, pending = _evaluate(p, attempt.id, actor)
    deploy(p, pending, actor)
    return evaluation


def _evaluate(p: Promotions, attempt_id: str, actor: str) -> tuple[EvaluationRow, list[tuple[str, str]]]:
    with writing(p.database) as s:
        attempt = find_attempt(s, attempt_id)
        if attempt.state != "running":
            raise PromotionError(f"attempt {attempt_id} is {attempt.state}, not running")
        candidate = find_candidate(s, attempt.candidate_id)
        stage = p.pipeline.stage(attempt.to_stage)
        rows = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt_id)).all()
        evidence = [gates.Evidence(r.id, r.kind, r.payload, r.sha256, utc(r.collected_at)) for r in rows]
        now = p.clock()
        assert attempt.started_at is not None
        result = gates.evaluate(stage, evidence, gates.Context(utc(attempt.started_at), attempt.requested_by, now))
        evaluation = EvaluationRow(
            id=new_id(), attempt_id=attempt_id, candidate_id=candidate.id, stage=stage.name,
            policy_hash=stage.policy_hash(), inputs=[{"id": e.id, "sha256": e.sha256} for e in evidence],
            checks=[c.__dict__ for c in result.checks], verdict=result.verdict, evaluated_at=now,
        )
        s.add(evaluation)
        append_audit(s, now, actor, f"gate.{result.verdict}", candidate_id=candidate.id, stage=stage.name,
                     attempt_id=attempt_id, data={"evaluation_id": evaluation.id, "policy_hash": stage.policy_hash(),
                                                   "checks": [c.__dict__ for c in result.checks]})
        if result.verdict == "error":
            recent = s.scalars(select(EvaluationRow).where(EvaluationRow.attempt_id == attempt_id)
                               .order_by(EvaluationRow.id.desc()).limit(BLOCK_AFTER_ERRORS)).all()
            if len(recent) == BLOCK_AFTER_ERRORS and all(r.verdict == "error" for r in recent):
                attempt.state, attempt.finished_at = "blocked", now
                attempt.reason = f"{BLOCK_AFTER_ERRORS} gate errors in a row: " + "; ".join(result.reasons)
                back = machine.qualified(attempt.from_stage) if attempt.from_stage else machine.REGISTERED
                before = candidate.state
                set_state(s, candidate, back)  # a blocked attempt leaves the candidate where it was: retry later
                append_audit(s, now, actor, "promotion.blocked", candidate_id=candidate.id, stage=stage.name,
                             attempt_id=attempt_id, from_state=before, to_state=back, reason=attempt.reason)
                release(p, s, attempt.to_stage, actor)
        if result.verdict == "pass":
            _qualify(p, s, attempt, candidate, actor)
        elif result.verdict == "fail":
            failed = [c.kind for c in result.checks if c.required and c.verdict == "fail"]
            quarantine_in(p, s, candidate, _FAILED_CHECK_REASON.get(failed[0], "manual"), "; ".join(result.reasons),
                          actor, attempt, [e.id for e in evidence])
        s.flush()
        return evaluation, planned(s)


def _qualify(p: Promotions, s: Session, attempt: AttemptRow, candidate: CandidateRow, actor: str) -> None:
    before = candidate.state
    after = machine.after_gate(p.pipeline, attempt.to_stage, "pass")
    assert after is not None
    stage = stage_row(s, attempt.to_stage)
    previous = stage.current_candidate_id
    if after == machine.STABLE and previous and previous != candidate.id:
        old = find_candidate(s, previous)
        if old.state == machine.STABLE:
            set_state(s, old, machine.RETIRED)
            append_audit(s, p.clock(), actor, "candidate.retired", candidate_id=old.id, stage=stage.stage,
                         from_state=machine.STABLE, to_state=machine.RETIRED)
        stage.last_good_candidate_id = previous
    stage.current_candidate_id, stage.current_since = candidate.id, p.clock()
    set_state(s, candidate, after)
    attempt.state, attempt.finished_at = "succeeded", p.clock()
    append_audit(s, p.clock(), actor, "promotion.succeeded", candidate_id=candidate.id, stage=attempt.to_stage,
                 attempt_id=attempt.id, from_state=before, to_state=after)
    release(p, s, attempt.to_stage, actor)


def recompute(p: Promotions, evaluation_id: str) -> dict[str, Any]:
    """Re-run a recorded gate evaluation from its stored inputs: the same policy and evidence must give
    the same verdict (the check the audit relies on). Evidence digests are verified on the way."""
    with p.database.session() as s:
        row = by_id(s, EvaluationRow, evaluation_id, "gate evaluation")
        evaluation_id = row.id
        attempt = find_attempt(s, row.attempt_id)
        stored = {e.id: e for e in s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == row.attempt_id))}
    stage = p.pipeline.stage(row.stage)
    if stage.policy_hash() != row.policy_hash:
        return {"evaluation_id": evaluation_id, "recomputable": False, "same": None,
                "reason": f"the policy of {row.stage} changed since (hash {row.policy_hash[:12]} → "
                          f"{stage.policy_hash()[:12]})"}
    evidence = []
    for item in row.inputs:
        e = stored.get(item["id"])
        digest = content_digest(e.payload) if e else None
        if e is None or digest != item["sha256"] or e.sha256 != item["sha256"]:
            return {"evaluation_id": evaluation_id, "recomputable": False, "same": False,
                    "reason": f"evidence {item['id']} is missing or changed"}
        evidence.append(gates.Evidence(e.id, e.kind, e.payload, e.sha256, utc(e.collected_at)))
    assert attempt.started_at is not None
    again = gates.evaluate(stage, evidence, gates.Context(utc(attempt.started_at), attempt.requested_by,
                                                          utc(row.evaluated_at)))
    return {"evaluation_id": evaluation_id, "recomputable": True, "same": again.verdict == row.verdict,
            "verdict": row.verdict, "recomputed": again.verdict}
