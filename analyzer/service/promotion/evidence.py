"""Evidence for an attempt: what users attach (JUnit, compatibility, approvals, judgments) and what the
flow collects itself before a gate runs (the Rollout's state, the canary's judgments, the stage's SLOs).

Evidence is stored once per content (its SHA-256), so a gate evaluation can name its inputs by digest
and :func:`~analyzer.service.promotion.evaluation.recompute` can check them later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzer.errors import ClusterError
from analyzer.promotion.stages import SloCheck
from analyzer.rollouts import read_status
from analyzer.service.promotion.records import (
    OPEN_STATES,
    PromotionError,
    Promotions,
    by_id,
    content_digest,
    find_attempt,
    utc,
)
from analyzer.store.judgments import JudgmentFilter, JudgmentRecord, get_judgment, list_judgments
from analyzer.store.ledger import append_audit, new_id, writing
from analyzer.store.tables import AttemptRow, EvidenceRow, JudgmentRow


def record_evidence(p: Promotions, attempt_id: str, kind: str, payload: dict[str, Any], actor: str,
                    open_only: bool = False) -> str:
    """Store evidence for an attempt, once per content; ``open_only``: refuse finished attempts (users'
    evidence; the flow itself also records on finished ones, e.g. a rollback's deployment)."""
    digest = content_digest(payload)
    with writing(p.database) as s:
        attempt = find_attempt(s, attempt_id)
        if open_only and attempt.state not in OPEN_STATES:
            raise PromotionError(f"attempt {attempt.id} is {attempt.state}: evidence is no longer accepted")
        same = s.scalars(select(EvidenceRow).where(EvidenceRow.attempt_id == attempt.id, EvidenceRow.kind == kind,
                                                   EvidenceRow.sha256 == digest)).first()
        if same is not None:
            return same.id
        row = EvidenceRow(id=new_id(), attempt_id=attempt.id, candidate_id=attempt.candidate_id,
                          stage=attempt.to_stage, kind=kind, payload=payload, sha256=digest,
                          collected_at=p.clock(), collected_by=actor)
        s.add(row)
        append_audit(s, p.clock(), actor, "evidence.added", candidate_id=attempt.candidate_id,
                     stage=attempt.to_stage, attempt_id=attempt.id, data={"kind": kind, "sha256": digest})
        return row.id


def add_evidence(p: Promotions, attempt_id: str, kind: str, payload: dict[str, Any], actor: str) -> str:
    """Attach evidence to a queued or running attempt (idempotent by content); returns its id."""
    return record_evidence(p, attempt_id, kind, payload, actor, open_only=True)


def add_judgment(p: Promotions, attempt_id: str, judgment_id: str, actor: str) -> str:
    """Attach a recorded canary judgment (from the analysis endpoint) as evidence, bound to the stage."""
    with p.database.session() as s:
        attempt = find_attempt(s, attempt_id)
        record = get_judgment(s, by_id(s, JudgmentRow, judgment_id, "judgment").id)
        seen = _canary_pods(s, attempt.id)
    assert record is not None
    target = p.pipeline.stage(attempt.to_stage).rollout
    if target is not None and (record.key.namespace, record.key.rollout) != (target.namespace, target.name):
        raise PromotionError(f"judgment {record.id} is about {record.key.namespace}/{record.key.rollout}; "
                             f"stage {attempt.to_stage} runs {target.namespace}/{target.name}")
    if seen and record.key.canary_hash not in seen:
        raise PromotionError(f"judgment {record.id} is about pods {record.key.canary_hash}; this attempt's canary "
                             f"ran as {', '.join(sorted(seen))}")
    return add_evidence(p, attempt.id, "judgment", _judgment_payload(record), actor)


def collect(p: Promotions, attempt: AttemptRow, artifacts: list[dict[str, str]], actor: str) -> None:
    """Before a running attempt's gate: its Rollout's state, its canary judgments, its stage's SLOs."""
    _follow(p, attempt, artifacts, actor)
    _collect_judgments(p, attempt, actor)
    _read_slo(p, attempt, actor)


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
    record_evidence(p, attempt.id, "rollout_status", payload, actor)


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
                                                        since=utc(attempt.started_at), limit=500))
            if r.key.canary_hash in pods
        ]
    for record in found:  # the same binding add_judgment checks: this stage's Rollout, this attempt's pods
        record_evidence(p, attempt.id, "judgment", _judgment_payload(record), actor, open_only=True)


def _read_slo(p: Promotions, attempt: AttemptRow, actor: str) -> None:
    stage = p.pipeline.stage(attempt.to_stage)
    if p.slo_reader is not None and any(isinstance(c, SloCheck) for c in stage.checks):
        record_evidence(p, attempt.id, "slo", {**p.slo_reader(stage), "read_at": p.clock().isoformat()}, actor)
