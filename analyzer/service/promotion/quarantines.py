"""Quarantine and rollback: a failed gate (or a person) stops a candidate for good, with its reason,
evidence and an impact snapshot; its pending work is cancelled and the last stage goes back to a good
candidate when the bad one was there.

Quarantine wins over promotion: it cancels the candidate's queued and running attempts in the same
transaction, and a running attempt re-reads its candidate before deciding.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzer.promotion import machine
from analyzer.service import notify_messages as messages
from analyzer.service.notify import Notification
from analyzer.service.promotion.attempts import deploy, release
from analyzer.service.promotion.records import (
    OPEN_STATES,
    PromotionError,
    Promotions,
    announce,
    find_candidate,
    plan_deploy,
    planned,
    set_state,
)
from analyzer.store.ledger import append_audit, new_id, stage_row, writing
from analyzer.store.tables import AttemptRow, CandidateRow, EvidenceRow, QuarantineRow, StageStateRow

REASON_CODES = ("canary_analysis_failed", "negative_test_failed", "compat_break", "rollout_aborted", "slo_breach",
                "security", "manual")


def quarantine(p: Promotions, candidate_id: str, reason_code: str, detail: str, actor: str,
               impact_analysis: dict[str, Any] | None = None) -> QuarantineRow:
    """Quarantine a candidate by hand; a reason is required; final for this candidate."""
    if reason_code not in REASON_CODES:
        raise PromotionError(f"reason code {reason_code!r} is not one of {', '.join(REASON_CODES)}")
    if not detail or len(detail.strip()) < 5:
        raise PromotionError("a quarantine needs a reason (5 characters or more)")
    with writing(p.database) as s:
        candidate = find_candidate(s, candidate_id)
        if candidate.state == machine.QUARANTINED:
            existing = s.scalars(select(QuarantineRow).where(QuarantineRow.candidate_id == candidate.id)).first()
            assert existing is not None
            return existing
        extra = {"reported": impact_analysis} if impact_analysis else None
        record = quarantine_in(p, s, candidate, reason_code, detail, actor, None, [], extra)
    deploy(p, planned(s), actor)
    return record


def quarantine_in(p: Promotions, s: Session, candidate: CandidateRow, reason_code: str, detail: str, actor: str,
                  attempt: AttemptRow | None, evidence_ids: list[str], extra: dict[str, Any] | None = None
                  ) -> QuarantineRow:
    """Quarantine inside the caller's transaction (a failed gate's, or a person's): cancel the candidate's
    open attempts (``attempt`` fails), free their stages, roll the last stage back if needed."""
    impact = {**_impact(p, s, candidate), **(extra or {})}
    before = candidate.state
    set_state(s, candidate, machine.QUARANTINED)
    cancelled, released = [], []
    for other in s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == candidate.id,
                                                    AttemptRow.state.in_(OPEN_STATES))).all():
        failed_here = attempt is not None and other.id == attempt.id
        if other.state == "running":
            released.append(other.to_stage)
        other.state = "failed" if failed_here else "cancelled"
        other.finished_at, other.reason = p.clock(), f"quarantined: {reason_code}"
        if not failed_here:
            cancelled.append(other.id)
    impact["pending_attempts_cancelled"] = cancelled
    row = QuarantineRow(id=new_id(), candidate_id=candidate.id, stage=attempt.to_stage if attempt else None,
                        attempt_id=attempt.id if attempt else None, reason_code=reason_code, detail=detail,
                        impact=impact, evidence_ids=evidence_ids, state="active", created_by=actor,
                        created_at=p.clock())
    s.add(row)
    s.flush()
    append_audit(s, p.clock(), actor, "candidate.quarantined", candidate_id=candidate.id, stage=row.stage,
                 attempt_id=row.attempt_id, from_state=before, to_state=machine.QUARANTINED, reason=detail,
                 data={"quarantine_id": row.id, "reason_code": reason_code, "impact": impact})
    rollback = _roll_back(p, s, candidate, before, actor, row)
    announce(p, s, messages.quarantined(candidate, row))
    if rollback is not None:
        announce(p, s, rollback)
    for stage in released:
        release(p, s, stage, actor)
    return row


def _impact(p: Promotions, s: Session, candidate: CandidateRow) -> dict[str, Any]:
    stages = s.scalars(select(StageStateRow)).all()
    running = sorted({st.stage for st in stages if st.current_candidate_id == candidate.id} |
                     {a.to_stage for a in s.scalars(select(AttemptRow).where(
                         AttemptRow.candidate_id == candidate.id, AttemptRow.state == "running"))})
    started = [a.started_at for a in s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == candidate.id))
               if a.started_at is not None]
    digests = {a["image"].split("@", 1)[1] for a in candidate.artifacts}
    siblings = sorted(c.id for c in s.scalars(select(CandidateRow).where(CandidateRow.id != candidate.id))
                      if digests & {a["image"].split("@", 1)[1] for a in c.artifacts})
    weights: dict[str, Any] = {}
    for attempt in s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == candidate.id)):
        statuses = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt.id,
                                                       EvidenceRow.kind == "rollout_status")
                             .order_by(EvidenceRow.collected_at, EvidenceRow.id)).all()
        if statuses and statuses[-1].payload.get("weight") is not None:
            weights[attempt.to_stage] = statuses[-1].payload["weight"]  # as last seen by the flow
    return {
        "stages_running_candidate": running,
        "traffic_weight": weights,
        "exposure_window": {"from": min(started).isoformat() if started else None, "to": p.clock().isoformat()},
        "state_before": candidate.state,
        "sibling_candidates_sharing_images": siblings,
    }


def _roll_back(p: Promotions, s: Session, bad: CandidateRow, before: str, actor: str,
               quarantine: QuarantineRow) -> Notification | None:
    """The last stage goes back to a good candidate: the stable one when a canary there failed, the last
    good one when the stable candidate itself is quarantined. Recorded as a rollback attempt and deployed;
    what to announce about it, if it happened."""
    last = p.pipeline.stages[-1].name
    stage = stage_row(s, last)
    if before == machine.STABLE:
        target_id = stage.last_good_candidate_id
    elif before == machine.in_stage(last):
        target_id = stage.current_candidate_id
    else:
        return None
    target = s.get(CandidateRow, target_id) if target_id else None
    if target is None or target.state == machine.QUARANTINED or target.id == bad.id:
        quarantine.impact = {**quarantine.impact, "rollback": "none: no good candidate to roll back to"}
        return None
    attempt = AttemptRow(id=new_id(), idempotency_key=f"rollback:{quarantine.id}", candidate_id=target.id,
                         from_stage=last, to_stage=last, kind="rollback", state="succeeded", requested_by=actor,
                         requested_at=p.clock(), started_at=p.clock(), finished_at=p.clock(),
                         reason=f"rollback after quarantine {quarantine.id}")
    s.add(attempt)
    plan_deploy(s, attempt.id, last)
    previous_state = target.state
    if previous_state != machine.STABLE:
        set_state(s, target, machine.STABLE)
        stage.last_good_candidate_id = None
    stage.current_candidate_id, stage.current_since = target.id, p.clock()
    quarantine.impact = {**quarantine.impact, "rollback_attempt_ids": [attempt.id], "rolled_back_to": target.id}
    append_audit(s, p.clock(), actor, "stage.rolled_back", candidate_id=target.id, stage=last, attempt_id=attempt.id,
                 from_state=previous_state, to_state=machine.STABLE, reason=f"{bad.id[:12]} quarantined")
    return messages.rolled_back(last, bad, target, attempt, quarantine)
