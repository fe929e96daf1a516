"""Promotion attempts: request (queue or run), the two-person confirm of a forced one, and the stage
lock they take and give back.

A stage runs one attempt at a time, claimed by compare-and-swap on the stage row's version; later
requests queue (or get :class:`StageBusyError`) and are re-checked when they reach the head of the
queue. Images are set on the stage's Rollout after the transaction commits (:func:`deploy`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from analyzer.errors import ClusterError
from analyzer.promotion import machine
from analyzer.promotion.stages import Pipeline
from analyzer.rollouts import actions
from analyzer.service import notify_messages as messages
from analyzer.service.promotion.evidence import record_evidence
from analyzer.service.promotion.records import (
    AWAITING_SECOND,
    OPEN_STATES,
    ForbiddenError,
    PromotionError,
    Promotions,
    StageBusyError,
    announce,
    find_attempt,
    find_candidate,
    plan_deploy,
    planned,
    set_state,
)
from analyzer.store.ledger import append_audit, new_id, stage_row, writing
from analyzer.store.tables import AttemptRow, StageStateRow


def promote(p: Promotions, candidate_id: str, to_stage: str | None, actor: str, *, admin: bool = False,
            idempotency_key: str | None = None, force: bool = False, justification: str | None = None,
            queue: bool = True) -> AttemptRow:
    """Request the candidate's entry into a stage (default: the next one); run it now or queue it.

    A forced promotion, when the stages need a second approver, waits (``awaiting_second``) until
    :func:`confirm` by another authenticated identity."""
    with writing(p.database) as s:
        candidate = find_candidate(s, candidate_id)
        target = p.pipeline.stage(to_stage).name if to_stage else _next_stage(p.pipeline, candidate.state)
        key = idempotency_key or f"{candidate.id}:{target}:{candidate.row_version}"
        existing = s.scalars(select(AttemptRow).where(AttemptRow.to_stage == target,
                                                      AttemptRow.idempotency_key == key)).first()
        if existing is not None:
            return existing
        pending = s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == candidate.id,
                                                     AttemptRow.to_stage == target,
                                                     AttemptRow.state.in_(OPEN_STATES))).first()
        if pending is not None:
            return pending
        guard = machine.entry_guard(p.pipeline, candidate.state, target, force, admin, justification)
        if not guard.allowed:
            raise PromotionError(f"cannot promote {candidate.id[:12]} to {target}: {guard.reason}")
        stage = stage_row(s, target)
        if stage.active_attempt_id is not None and not queue:
            raise StageBusyError(f"{target} is busy with attempt {stage.active_attempt_id}; retry later or queue")
        kind = "forced" if guard.forced else "forward"
        waits = guard.forced and p.pipeline.forced_needs_second_approver
        attempt = AttemptRow(id=new_id(), idempotency_key=key, candidate_id=candidate.id,
                             from_stage=_stage_of(candidate.state), to_stage=target, kind=kind,
                             state=AWAITING_SECOND if waits else "queued", requested_by=actor,
                             requested_at=p.clock(), justification=justification)
        s.add(attempt)
        s.flush()
        append_audit(s, p.clock(), actor, "promotion.requested", candidate_id=candidate.id, stage=target,
                     attempt_id=attempt.id, reason=justification,
                     data={"kind": kind, "forced": guard.forced, "awaits_second_approver": waits,
                           "idempotency_key": key})
        if not waits:
            start(p, s, attempt, actor)
        if guard.forced:
            announce(p, s, messages.forced(candidate, attempt))
    deploy(p, planned(s), actor)
    return attempt


def confirm(p: Promotions, attempt_id: str, approver: str, queue: bool = True) -> AttemptRow:
    """The second person of a forced promotion: ``approver`` (an authenticated identity with the approver
    role, checked by the caller) must differ from the requester; the attempt then queues or starts."""
    with writing(p.database) as s:
        attempt = find_attempt(s, attempt_id)
        if attempt.state != AWAITING_SECOND:
            raise PromotionError(f"attempt {attempt.id} is {attempt.state}, not awaiting a second approver")
        if approver == attempt.requested_by:
            raise ForbiddenError(f"{approver} requested this forced promotion; a different identity must confirm it")
        candidate = find_candidate(s, attempt.candidate_id)
        guard = machine.entry_guard(p.pipeline, candidate.state, attempt.to_stage, True, True, attempt.justification)
        if not guard.allowed:
            raise PromotionError(f"cannot promote {candidate.id[:12]} to {attempt.to_stage}: {guard.reason}")
        stage = stage_row(s, attempt.to_stage)
        if stage.active_attempt_id is not None and not queue:
            raise StageBusyError(f"{attempt.to_stage} is busy with attempt {stage.active_attempt_id}; retry later")
        attempt.second_approver, attempt.state = approver, "queued"
        append_audit(s, p.clock(), approver, "promotion.confirmed", candidate_id=candidate.id,
                     stage=attempt.to_stage, attempt_id=attempt.id,
                     data={"requested_by": attempt.requested_by, "confirmed_by": approver})
        start(p, s, attempt, approver)
        announce(p, s, messages.confirmed(candidate, attempt))
    deploy(p, planned(s), approver)
    return attempt


def _stage_of(state: str) -> str | None:
    return state.split(":", 1)[1] if ":" in state else None


def _next_stage(pipeline: Pipeline, state: str) -> str:
    if state == machine.REGISTERED:
        return pipeline.stages[0].name
    stage = _stage_of(state)
    if stage is not None and state.startswith("in:"):
        return stage  # a repeated request: it finds the attempt that is already verifying there
    if stage is None or pipeline.index(stage) + 1 >= len(pipeline.stages):
        raise PromotionError(f"a candidate in state {state} has no next stage to enter")
    return pipeline.stages[pipeline.index(stage) + 1].name


def _claim(s: Session, stage: StageStateRow, attempt: AttemptRow) -> bool:
    """Compare-and-swap: take the stage for ``attempt`` if nobody holds it."""
    done = s.execute(
        update(StageStateRow)
        .where(StageStateRow.stage == stage.stage, StageStateRow.row_version == stage.row_version,
               StageStateRow.active_attempt_id.is_(None))
        .values(active_attempt_id=attempt.id, row_version=stage.row_version + 1)
    )
    s.refresh(stage)
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def start(p: Promotions, s: Session, attempt: AttemptRow, actor: str) -> None:
    """Run ``attempt`` if its stage is free (the candidate enters it); else it stays queued."""
    stage = stage_row(s, attempt.to_stage)
    if not _claim(s, stage, attempt):
        return
    candidate = find_candidate(s, attempt.candidate_id)
    before = candidate.state
    set_state(s, candidate, machine.in_stage(attempt.to_stage))
    attempt.state, attempt.started_at = "running", p.clock()
    plan_deploy(s, attempt.id, attempt.to_stage)
    append_audit(s, p.clock(), actor, "promotion.started", candidate_id=candidate.id, stage=attempt.to_stage,
                 attempt_id=attempt.id, from_state=before, to_state=candidate.state,
                 data={"kind": attempt.kind})


def release(p: Promotions, s: Session, stage_name: str, actor: str) -> None:
    """Free the stage and start the oldest queued attempt that still passes its guard."""
    stage = stage_row(s, stage_name)
    stage.active_attempt_id, stage.row_version = None, stage.row_version + 1
    s.flush()
    queued = s.scalars(select(AttemptRow).where(AttemptRow.to_stage == stage_name, AttemptRow.state == "queued")
                       .order_by(AttemptRow.id)).all()
    for attempt in queued:
        candidate = find_candidate(s, attempt.candidate_id)
        guard = machine.entry_guard(p.pipeline, candidate.state, attempt.to_stage, attempt.kind == "forced", True,
                                    attempt.justification)
        if guard.allowed:
            start(p, s, attempt, actor)
            return
        attempt.state, attempt.finished_at, attempt.reason = "cancelled", p.clock(), f"re-checked: {guard.reason}"
        append_audit(s, p.clock(), actor, "promotion.cancelled", candidate_id=candidate.id, stage=stage_name,
                     attempt_id=attempt.id, reason=attempt.reason)


def deploy(p: Promotions, pending: list[tuple[str, str]], actor: str) -> None:
    """After a commit: set each started attempt's images on its stage's Rollout (or record the plan)."""
    for attempt_id, stage_name in pending:
        target = p.pipeline.stage(stage_name).rollout
        if target is None:
            continue
        with p.database.session() as s:
            attempt = find_attempt(s, attempt_id)
            artifacts = find_candidate(s, attempt.candidate_id).artifacts
        plan = [{"container": a["name"], "image": a["image"]} for a in artifacts]
        payload: dict[str, Any] = {"namespace": target.namespace, "name": target.name, "set_image": plan}
        if p.kube is None or p.dry_run:
            payload["dry_run"] = True
        else:
            try:
                for step in plan:
                    actions.set_image(p.kube, target.namespace, target.name, step["container"], step["image"])
            except ClusterError as error:
                payload["error"] = str(error)
        record_evidence(p, attempt_id, "rollout", payload, actor)
