"""Promotion use cases: register, promote, add evidence, approve, evaluate the gate, quarantine, status.

Every change is one serialised transaction (:func:`analyzer.store.ledger.writing`) that also appends
its audit event. A stage runs one attempt at a time, claimed by compare-and-swap on the stage row's
version; later requests queue (or get :class:`StageBusyError`) and are re-checked when they reach the
head of the queue. Quarantine wins over promotion: it cancels the candidate's queued and running
attempts in the same transaction, and a running attempt re-reads its candidate before deciding.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from analyzer.errors import ClusterError, InputError
from analyzer.promotion import gates, machine
from analyzer.promotion.audit import GENESIS, Verification, check_signature, checkpoint, verify
from analyzer.promotion.stages import Pipeline, SloCheck, Stage, load_pipeline
from analyzer.rollouts import Kube, actions, read_status
from analyzer.service.analysis import Analyzer
from analyzer.service.slo import stage_slo
from analyzer.settings import Settings
from analyzer.store.db import Database
from analyzer.store.judgments import JudgmentFilter, JudgmentRecord, get_judgment, list_judgments
from analyzer.store.ledger import append_audit, audit_events, audit_page, new_id, stage_row, writing
from analyzer.store.tables import (
    AttemptRow,
    AuditRow,
    CandidateRow,
    EvaluationRow,
    EvidenceRow,
    QuarantineRow,
    StageStateRow,
)

IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")
REASON_CODES = ("canary_analysis_failed", "negative_test_failed", "compat_break", "rollout_aborted", "slo_breach",
                "security", "manual")
BLOCK_AFTER_ERRORS = 3
AWAITING_SECOND = "awaiting_second"  # a forced promotion before its second approver confirms it
OPEN_STATES = ("queued", "running", AWAITING_SECOND)
_FAILED_CHECK_REASON = {
    "canary": "canary_analysis_failed",
    "junit": "negative_test_failed",
    "compat": "compat_break",
    "rollout": "rollout_aborted",
    "slo": "slo_breach",
}


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
    cluster is touched: the plan is stored as ``rollout`` evidence.
    """

    database: Database
    pipeline: Pipeline
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    kube: Kube | None = None
    dry_run: bool = False
    slo_reader: Callable[[Stage], dict[str, Any]] | None = None  # the stage's SLOs from Prometheus
    to_deploy: list[tuple[str, str]] = field(default_factory=list)  # (attempt, stage), filled inside transactions


def promotions_for(settings: Settings, analyzer: Analyzer, dry_run: bool = False) -> Promotions:
    """The flow as the settings configure it: stages, SLOs from Prometheus, the cluster when it drives Rollouts."""
    kube = Kube(settings.kube_context, settings.kubeconfig) if settings.promotion_drive_rollouts else None
    return Promotions(analyzer.database, load_pipeline(settings.stages_file), kube=kube, dry_run=dry_run,
                      slo_reader=lambda stage: stage_slo(stage, analyzer))


def candidate_id_of(artifacts: list[dict[str, str]]) -> str:
    canonical = json.dumps(sorted(artifacts, key=lambda a: a["name"]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _candidate(session: Session, candidate_id: str) -> CandidateRow:
    row = session.get(CandidateRow, candidate_id)
    if row is None:
        prefix = CandidateRow.id.startswith(candidate_id, autoescape=True)  # % and _ are not patterns
        matches = session.scalars(select(CandidateRow).where(prefix)).all()
        if len(matches) == 1 and len(candidate_id) >= 8:
            return matches[0]
        raise NotFoundError(f"no candidate {candidate_id!r}")
    return row


def _attempt(session: Session, attempt_id: str) -> AttemptRow:
    row = session.get(AttemptRow, attempt_id)
    if row is None:
        raise NotFoundError(f"no promotion attempt {attempt_id!r}")
    return row


def register(p: Promotions, artifacts: list[dict[str, str]], actor: str, alias: str | None = None,
             fixes: str | None = None, source: dict[str, Any] | None = None) -> CandidateRow:
    """An immutable candidate; registering the same artifacts again returns the same one."""
    if not artifacts:
        raise PromotionError("a candidate needs at least one artifact (name=image@sha256:…)")
    for a in artifacts:
        if not IMAGE.match(a.get("image", "")):
            raise PromotionError(f"artifact {a.get('name')!r}: images are pinned by digest (repo@sha256:<64 hex>), "
                                 f"got {a.get('image')!r}")
    cid = candidate_id_of(artifacts)
    with writing(p.database) as s:
        existing = s.get(CandidateRow, cid)
        if existing is not None:
            return existing
        if fixes is not None:
            fixes = _candidate(s, fixes).id
        now = p.clock()
        row = CandidateRow(id=cid, alias=alias, artifacts=artifacts, fixes=fixes, source=source or {}, created_at=now,
                           created_by=actor, state=machine.REGISTERED, row_version=0)
        s.add(row)
        append_audit(s, now, actor, "candidate.registered", candidate_id=cid, to_state=machine.REGISTERED,
                     data={"artifacts": artifacts, "alias": alias, "fixes": fixes})
        return row


def _set_state(s: Session, candidate: CandidateRow, state: str) -> None:
    """Compare-and-swap on the candidate's version: a concurrent change makes this transaction fail."""
    done = s.execute(
        update(CandidateRow)
        .where(CandidateRow.id == candidate.id, CandidateRow.row_version == candidate.row_version)
        .values(state=state, row_version=candidate.row_version + 1)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise PromotionError(f"candidate {candidate.id[:12]} changed concurrently; retry")
    s.refresh(candidate)


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


def _start(p: Promotions, s: Session, attempt: AttemptRow, actor: str) -> None:
    stage = stage_row(s, attempt.to_stage)
    if not _claim(s, stage, attempt):
        return
    candidate = _candidate(s, attempt.candidate_id)
    before = candidate.state
    _set_state(s, candidate, machine.in_stage(attempt.to_stage))
    attempt.state, attempt.started_at = "running", p.clock()
    p.to_deploy.append((attempt.id, attempt.to_stage))
    append_audit(s, p.clock(), actor, "promotion.started", candidate_id=candidate.id, stage=attempt.to_stage,
                 attempt_id=attempt.id, from_state=before, to_state=candidate.state,
                 data={"kind": attempt.kind})


def _release(p: Promotions, s: Session, stage_name: str, actor: str) -> None:
    """Free the stage and start the oldest queued attempt that still passes its guard."""
    stage = stage_row(s, stage_name)
    stage.active_attempt_id, stage.row_version = None, stage.row_version + 1
    s.flush()
    queued = s.scalars(select(AttemptRow).where(AttemptRow.to_stage == stage_name, AttemptRow.state == "queued")
                       .order_by(AttemptRow.id)).all()
    for attempt in queued:
        candidate = _candidate(s, attempt.candidate_id)
        guard = machine.entry_guard(p.pipeline, candidate.state, attempt.to_stage, attempt.kind == "forced", True,
                                    attempt.justification)
        if guard.allowed:
            _start(p, s, attempt, actor)
            return
        attempt.state, attempt.finished_at, attempt.reason = "cancelled", p.clock(), f"re-checked: {guard.reason}"
        append_audit(s, p.clock(), actor, "promotion.cancelled", candidate_id=candidate.id, stage=stage_name,
                     attempt_id=attempt.id, reason=attempt.reason)


def _deploy(p: Promotions, actor: str) -> None:
    """After a commit: set each started attempt's images on its stage's Rollout (or record the plan)."""
    pending, p.to_deploy[:] = list(p.to_deploy), []
    for attempt_id, stage_name in pending:
        target = p.pipeline.stage(stage_name).rollout
        if target is None:
            continue
        with p.database.session() as s:
            attempt = _attempt(s, attempt_id)
            artifacts = _candidate(s, attempt.candidate_id).artifacts
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
        _record(p, attempt_id, "rollout", payload, actor)


def _record(p: Promotions, attempt_id: str, kind: str, payload: dict[str, Any], actor: str,
            open_only: bool = False) -> str:
    """Store evidence for an attempt, once per content; ``open_only``: refuse finished attempts (users'
    evidence; the flow itself also records on finished ones, e.g. a rollback's deployment)."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    with writing(p.database) as s:
        attempt = _attempt(s, attempt_id)
        if open_only and attempt.state not in OPEN_STATES:
            raise PromotionError(f"attempt {attempt_id} is {attempt.state}: evidence is no longer accepted")
        same = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt_id, EvidenceRow.kind == kind,
                                                   EvidenceRow.sha256 == digest)).first()
        if same is not None:
            return same.id
        row = EvidenceRow(id=new_id(), attempt_id=attempt_id, candidate_id=attempt.candidate_id,
                          stage=attempt.to_stage, kind=kind, payload=payload, sha256=digest,
                          collected_at=p.clock(), collected_by=actor)
        s.add(row)
        append_audit(s, p.clock(), actor, "evidence.added", candidate_id=attempt.candidate_id,
                     stage=attempt.to_stage, attempt_id=attempt_id, data={"kind": kind, "sha256": digest})
        return row.id


def _follow(p: Promotions, attempt: AttemptRow, artifacts: list[dict[str, str]], actor: str) -> None:
    """Read the stage's Rollout and record its state as evidence for the attempt (``rollout`` check)."""
    target = p.pipeline.stage(attempt.to_stage).rollout
    if target is None or p.kube is None or p.dry_run:
        return
    payload: dict[str, Any] = {"namespace": target.namespace, "name": target.name,
                               "expected_images": sorted(a["image"] for a in artifacts)}
    try:
        status = read_status(p.kube.get(target.namespace, target.name))
        payload.update(phase=status.phase, message=status.message, aborted=status.aborted, weight=status.set_weight,
                       canary_hash=status.canary_hash, stable_hash=status.stable_hash, images=status.images,
                       step_analysis=status.step_analysis.phase if status.step_analysis else None)
    except ClusterError as error:
        payload["error"] = str(error)
    _record(p, attempt.id, "rollout_status", payload, actor)


def _canary_pods(s: Session, attempt_id: str) -> set[str]:
    """The canary pod-template hashes the flow saw on the stage's Rollout during this attempt."""
    statuses = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt_id,
                                                   EvidenceRow.kind == "rollout_status"))
    return {str(e.payload["canary_hash"]) for e in statuses if e.payload.get("canary_hash")}


def _judgment_payload(record: JudgmentRecord) -> dict[str, Any]:
    return {"judgment_id": record.id, "verdict": record.verdict, "created_at": record.created_at.isoformat(),
            "namespace": record.key.namespace, "rollout": record.key.rollout, "profile": record.key.profile,
            "canary_hash": record.key.canary_hash, "score": record.score}


def _collect_judgments(p: Promotions, attempt: AttemptRow, actor: str) -> None:
    """Judgments the analysis endpoint recorded for the stage's Rollout, about the canary pods this attempt
    ran, since it started: collected as evidence without anyone having to attach them."""
    target = p.pipeline.stage(attempt.to_stage).rollout
    if target is None or attempt.started_at is None:
        return
    with p.database.session() as s:
        pods = _canary_pods(s, attempt.id)
        found = [
            r for r in list_judgments(s, JudgmentFilter(namespace=target.namespace, rollout=target.name,
                                                        since=_utc(attempt.started_at), limit=500))
            if r.key.canary_hash in pods
        ]
    for record in found:  # the same binding add_judgment checks: this stage's Rollout, this attempt's pods
        _record(p, attempt.id, "judgment", _judgment_payload(record), actor, open_only=True)


def _read_slo(p: Promotions, attempt: AttemptRow, actor: str) -> None:
    stage = p.pipeline.stage(attempt.to_stage)
    if p.slo_reader is not None and any(isinstance(c, SloCheck) for c in stage.checks):
        _record(p, attempt.id, "slo", {**p.slo_reader(stage), "read_at": p.clock().isoformat()}, actor)


def promote(p: Promotions, candidate_id: str, to_stage: str | None, actor: str, *, admin: bool = False,
            idempotency_key: str | None = None, force: bool = False, justification: str | None = None,
            queue: bool = True) -> AttemptRow:
    """Request the candidate's entry into a stage (default: the next one); run it now or queue it.

    A forced promotion, when the stages need a second approver, waits (``awaiting_second``) until
    :func:`confirm` by another authenticated identity."""
    with writing(p.database) as s:
        candidate = _candidate(s, candidate_id)
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
            _start(p, s, attempt, actor)
    _deploy(p, actor)
    return attempt


def confirm(p: Promotions, attempt_id: str, approver: str, queue: bool = True) -> AttemptRow:
    """The second person of a forced promotion: ``approver`` (an authenticated identity with the approver
    role, checked by the caller) must differ from the requester; the attempt then queues or starts."""
    with writing(p.database) as s:
        attempt = _attempt(s, attempt_id)
        if attempt.state != AWAITING_SECOND:
            raise PromotionError(f"attempt {attempt_id} is {attempt.state}, not awaiting a second approver")
        if approver == attempt.requested_by:
            raise ForbiddenError(f"{approver} requested this forced promotion; a different identity must confirm it")
        candidate = _candidate(s, attempt.candidate_id)
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
        _start(p, s, attempt, approver)
    _deploy(p, approver)
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


def add_evidence(p: Promotions, attempt_id: str, kind: str, payload: dict[str, Any], actor: str) -> str:
    """Attach evidence to a queued or running attempt (idempotent by content); returns its id."""
    return _record(p, attempt_id, kind, payload, actor, open_only=True)


def evaluate(p: Promotions, attempt_id: str, actor: str) -> EvaluationRow:
    """Read the stage's Rollout, its canary judgments and SLOs, run the stage's gate, apply the verdict."""
    with p.database.session() as s:
        attempt = _attempt(s, attempt_id)
        artifacts = _candidate(s, attempt.candidate_id).artifacts
    if attempt.state == "running":  # _evaluate refuses the others
        _follow(p, attempt, artifacts, actor)
        _collect_judgments(p, attempt, actor)
        _read_slo(p, attempt, actor)
    evaluation = _evaluate(p, attempt_id, actor)
    _deploy(p, actor)
    return evaluation


def _evaluate(p: Promotions, attempt_id: str, actor: str) -> EvaluationRow:
    with writing(p.database) as s:
        attempt = _attempt(s, attempt_id)
        if attempt.state != "running":
            raise PromotionError(f"attempt {attempt_id} is {attempt.state}, not running")
        candidate = _candidate(s, attempt.candidate_id)
        stage = p.pipeline.stage(attempt.to_stage)
        rows = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt_id)).all()
        evidence = [gates.Evidence(r.id, r.kind, r.payload, r.sha256, _utc(r.collected_at)) for r in rows]
        now = p.clock()
        assert attempt.started_at is not None
        result = gates.evaluate(stage, evidence, gates.Context(_utc(attempt.started_at), attempt.requested_by, now))
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
                _set_state(s, candidate, back)  # a blocked attempt leaves the candidate where it was: retry later
                append_audit(s, now, actor, "promotion.blocked", candidate_id=candidate.id, stage=stage.name,
                             attempt_id=attempt_id, from_state=before, to_state=back, reason=attempt.reason)
                _release(p, s, attempt.to_stage, actor)
        if result.verdict == "pass":
            _qualify(p, s, attempt, candidate, actor)
        elif result.verdict == "fail":
            failed = [c.kind for c in result.checks if c.required and c.verdict == "fail"]
            _quarantine(p, s, candidate, _FAILED_CHECK_REASON.get(failed[0], "manual"), "; ".join(result.reasons),
                        actor, attempt, [e.id for e in evidence])
        s.flush()
        return evaluation


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _qualify(p: Promotions, s: Session, attempt: AttemptRow, candidate: CandidateRow, actor: str) -> None:
    before = candidate.state
    after = machine.after_gate(p.pipeline, attempt.to_stage, "pass")
    assert after is not None
    stage = stage_row(s, attempt.to_stage)
    previous = stage.current_candidate_id
    if after == machine.STABLE and previous and previous != candidate.id:
        old = _candidate(s, previous)
        if old.state == machine.STABLE:
            _set_state(s, old, machine.RETIRED)
            append_audit(s, p.clock(), actor, "candidate.retired", candidate_id=old.id, stage=stage.stage,
                         from_state=machine.STABLE, to_state=machine.RETIRED)
        stage.last_good_candidate_id = previous
    stage.current_candidate_id, stage.current_since = candidate.id, p.clock()
    _set_state(s, candidate, after)
    attempt.state, attempt.finished_at = "succeeded", p.clock()
    append_audit(s, p.clock(), actor, "promotion.succeeded", candidate_id=candidate.id, stage=attempt.to_stage,
                 attempt_id=attempt.id, from_state=before, to_state=after)
    _release(p, s, attempt.to_stage, actor)


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


def _quarantine(p: Promotions, s: Session, candidate: CandidateRow, reason_code: str, detail: str, actor: str,
                attempt: AttemptRow | None, evidence_ids: list[str], extra: dict[str, Any] | None = None
                ) -> QuarantineRow:
    impact = {**_impact(p, s, candidate), **(extra or {})}
    before = candidate.state
    _set_state(s, candidate, machine.QUARANTINED)
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
    _roll_back(p, s, candidate, before, actor, row)
    for stage in released:
        _release(p, s, stage, actor)
    return row


def _roll_back(p: Promotions, s: Session, bad: CandidateRow, before: str, actor: str,
               quarantine: QuarantineRow) -> None:
    """The last stage goes back to a good candidate: the stable one when a canary there failed, the last
    good one when the stable candidate itself is quarantined. Recorded as a rollback attempt and deployed."""
    last = p.pipeline.stages[-1].name
    stage = stage_row(s, last)
    if before == machine.STABLE:
        target_id = stage.last_good_candidate_id
    elif before == machine.in_stage(last):
        target_id = stage.current_candidate_id
    else:
        return
    target = s.get(CandidateRow, target_id) if target_id else None
    if target is None or target.state == machine.QUARANTINED or target.id == bad.id:
        quarantine.impact = {**quarantine.impact, "rollback": "none: no good candidate to roll back to"}
        return
    attempt = AttemptRow(id=new_id(), idempotency_key=f"rollback:{quarantine.id}", candidate_id=target.id,
                         from_stage=last, to_stage=last, kind="rollback", state="succeeded", requested_by=actor,
                         requested_at=p.clock(), started_at=p.clock(), finished_at=p.clock(),
                         reason=f"rollback after quarantine {quarantine.id}")
    s.add(attempt)
    p.to_deploy.append((attempt.id, last))
    previous_state = target.state
    if previous_state != machine.STABLE:
        _set_state(s, target, machine.STABLE)
        stage.last_good_candidate_id = None
    stage.current_candidate_id, stage.current_since = target.id, p.clock()
    quarantine.impact = {**quarantine.impact, "rollback_attempt_ids": [attempt.id], "rolled_back_to": target.id}
    append_audit(s, p.clock(), actor, "stage.rolled_back", candidate_id=target.id, stage=last, attempt_id=attempt.id,
                 from_state=previous_state, to_state=machine.STABLE, reason=f"{bad.id[:12]} quarantined")


def quarantine(p: Promotions, candidate_id: str, reason_code: str, detail: str, actor: str,
               impact_analysis: dict[str, Any] | None = None) -> QuarantineRow:
    """Quarantine a candidate by hand; a reason is required; final for this candidate."""
    if reason_code not in REASON_CODES:
        raise PromotionError(f"reason code {reason_code!r} is not one of {', '.join(REASON_CODES)}")
    if not detail or len(detail.strip()) < 5:
        raise PromotionError("a quarantine needs a reason (5 characters or more)")
    with writing(p.database) as s:
        candidate = _candidate(s, candidate_id)
        if candidate.state == machine.QUARANTINED:
            existing = s.scalars(select(QuarantineRow).where(QuarantineRow.candidate_id == candidate.id)).first()
            assert existing is not None
            return existing
        extra = {"reported": impact_analysis} if impact_analysis else None
        record = _quarantine(p, s, candidate, reason_code, detail, actor, None, [], extra)
    _deploy(p, actor)
    return record


def verify_audit(p: Promotions, anchor: dict[str, Any] | None = None, key: bytes | None = None) -> Verification:
    """The chain re-walked; with ``anchor`` (a checkpoint, whose signature ``key`` must check) also its
    length and head, which catch truncation and consistent rewrites."""
    if anchor is not None:
        if key is None:
            raise PromotionError("verifying a checkpoint needs the audit key (audit_key)")
        try:
            check_signature(key, anchor)
        except ValueError as error:
            raise PromotionError(str(error)) from None
    with p.database.session() as s:
        return verify(audit_events(s), anchor)


def checkpoint_audit(p: Promotions, key: bytes) -> dict[str, Any]:
    """A signed checkpoint of the chain as it is now (verified first: a broken chain is not anchored)."""
    with p.database.session() as s:
        result = verify(audit_events(s))
        head = s.scalars(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).first()
    if not result.ok:
        raise PromotionError(f"the audit chain is broken ({result.detail}); not checkpointed")
    return checkpoint(key, result.events, head or GENESIS, p.clock().isoformat())


def add_judgment(p: Promotions, attempt_id: str, judgment_id: str, actor: str) -> str:
    """Attach a recorded canary judgment (from the analysis endpoint) as evidence, bound to the stage."""
    with p.database.session() as s:
        attempt = _attempt(s, attempt_id)
        record = get_judgment(s, judgment_id)
        seen = _canary_pods(s, attempt_id)
    if record is None:
        raise NotFoundError(f"no judgment {judgment_id!r}")
    target = p.pipeline.stage(attempt.to_stage).rollout
    if target is not None and (record.key.namespace, record.key.rollout) != (target.namespace, target.name):
        raise PromotionError(f"judgment {judgment_id} is about {record.key.namespace}/{record.key.rollout}; "
                             f"stage {attempt.to_stage} runs {target.namespace}/{target.name}")
    if seen and record.key.canary_hash not in seen:
        raise PromotionError(f"judgment {judgment_id} is about pods {record.key.canary_hash}; this attempt's canary "
                             f"ran as {', '.join(sorted(seen))}")
    return add_evidence(p, attempt_id, "judgment", _judgment_payload(record), actor)


def candidate_view(row: CandidateRow) -> dict[str, Any]:
    return {"id": row.id, "alias": row.alias, "state": row.state, "artifacts": row.artifacts, "fixes": row.fixes,
            "source": row.source, "created_at": _utc(row.created_at).isoformat(), "created_by": row.created_by}


def attempt_view(row: AttemptRow) -> dict[str, Any]:
    when = {k: _utc(v).isoformat() if v else None
            for k, v in (("requested_at", row.requested_at), ("started_at", row.started_at),
                         ("finished_at", row.finished_at))}
    return {"id": row.id, "candidate_id": row.candidate_id, "from_stage": row.from_stage, "to_stage": row.to_stage,
            "kind": row.kind, "state": row.state, "requested_by": row.requested_by, **when,
            "justification": row.justification, "second_approver": row.second_approver, "reason": row.reason}


def quarantine_view(row: QuarantineRow) -> dict[str, Any]:
    return {"id": row.id, "candidate_id": row.candidate_id, "stage": row.stage, "attempt_id": row.attempt_id,
            "reason_code": row.reason_code, "detail": row.detail, "impact": row.impact,
            "evidence_ids": row.evidence_ids, "state": row.state, "created_by": row.created_by,
            "created_at": _utc(row.created_at).isoformat()}


def show_candidate(p: Promotions, candidate_id: str) -> dict[str, Any]:
    with p.database.session() as s:
        row = _candidate(s, candidate_id)
        attempts = s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == row.id).order_by(AttemptRow.id))
        return {**candidate_view(row), "attempts": [attempt_view(a) for a in attempts]}


def show_attempt(p: Promotions, attempt_id: str) -> dict[str, Any]:
    with p.database.session() as s:
        row = _attempt(s, attempt_id)
        evidence = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt_id))
        evaluations = s.scalars(select(EvaluationRow).where(EvaluationRow.attempt_id == attempt_id)
                                .order_by(EvaluationRow.id))
        return {**attempt_view(row),
                "evidence": [{"id": e.id, "kind": e.kind, "sha256": e.sha256, "payload": e.payload,
                              "collected_by": e.collected_by} for e in evidence],
                "evaluations": [{"id": v.id, "verdict": v.verdict, "policy_hash": v.policy_hash, "checks": v.checks,
                                 "evaluated_at": _utc(v.evaluated_at).isoformat()} for v in evaluations]}


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


def audit_log(p: Promotions, limit: int = 100, candidate_id: str | None = None,
              before: int | None = None) -> list[dict[str, Any]]:
    with p.database.session() as s:
        return audit_page(s, limit, candidate_id, before)


def running_attempts(p: Promotions) -> list[str]:
    with p.database.session() as s:
        return list(s.scalars(select(AttemptRow.id).where(AttemptRow.state == "running").order_by(AttemptRow.id)))


def recompute(p: Promotions, evaluation_id: str) -> dict[str, Any]:
    """Re-run a recorded gate evaluation from its stored inputs: the same policy and evidence must give
    the same verdict (the check the audit relies on). Evidence digests are verified on the way."""
    with p.database.session() as s:
        row = s.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFoundError(f"no gate evaluation {evaluation_id!r}")
        attempt = _attempt(s, row.attempt_id)
        stored = {e.id: e for e in s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == row.attempt_id))}
    stage = p.pipeline.stage(row.stage)
    if stage.policy_hash() != row.policy_hash:
        return {"evaluation_id": evaluation_id, "recomputable": False, "same": None,
                "reason": f"the policy of {row.stage} changed since (hash {row.policy_hash[:12]} → "
                          f"{stage.policy_hash()[:12]})"}
    evidence = []
    for item in row.inputs:
        e = stored.get(item["id"])
        digest = hashlib.sha256(json.dumps(e.payload, sort_keys=True, default=str).encode()).hexdigest() if e else None
        if e is None or digest != item["sha256"] or e.sha256 != item["sha256"]:
            return {"evaluation_id": evaluation_id, "recomputable": False, "same": False,
                    "reason": f"evidence {item['id']} is missing or changed"}
        evidence.append(gates.Evidence(e.id, e.kind, e.payload, e.sha256, _utc(e.collected_at)))
    assert attempt.started_at is not None
    again = gates.evaluate(stage, evidence, gates.Context(_utc(attempt.started_at), attempt.requested_by,
                                                          _utc(row.evaluated_at)))
    return {"evaluation_id": evaluation_id, "recomputable": True, "same": again.verdict == row.verdict,
            "verdict": row.verdict, "recomputed": again.verdict}
