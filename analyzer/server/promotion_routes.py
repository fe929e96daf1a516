"""The promotion API, including the runbook paths users already call.

``POST /api/v1/evaluation/promote/{id}`` (``?force=true``), ``POST /api/v1/evaluation/quarantine/{id}``,
``GET /api/v1/quarantine/records``, ``GET /api/v1/quarantine/statistics``, ``GET /api/v1/health/slo``,
plus candidates, stages, attempts (evidence, approvals, evaluate) and the audit log.

Every ``{id}`` in a path (candidate, attempt) and a body's ``judgment_id`` may be a unique prefix of 8 or
more characters, as on the command line; an ambiguous one is a 400 problem naming the ids it matches.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from analyzer.promotion.junit import parse_junit
from analyzer.server.auth import Approver, Operator, Viewer
from analyzer.service import promotion as flow
from analyzer.service.slo import stage_slos

router = APIRouter(prefix="/api/v1", tags=["promotion"])


def _p(request: Request) -> flow.Promotions:
    promotions: flow.Promotions = request.app.state.promotions
    return promotions


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63, description="container name")
    image: str = Field(max_length=512, description="repo@sha256:<64 hex>")


class CandidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    artifacts: list[Artifact] = Field(min_length=1, max_length=50)
    alias: str | None = Field(default=None, max_length=120)
    fixes: str | None = Field(default=None, max_length=64)
    source: dict[str, str] = Field(default_factory=dict)


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_stage: str | None = Field(default=None, max_length=40, description="default: the next stage")
    justification: str | None = Field(default=None, max_length=2000)
    queue: StrictBool = True  # 0 or "yes" is refused (422), not read as a boolean


class QuarantineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=5, max_length=4000)
    reason_code: Literal[
        "canary_analysis_failed", "negative_test_failed", "compat_break", "rollout_aborted", "slo_breach", "security",
        "manual",
    ] = "manual"
    impact_analysis: dict[str, Any] | None = None


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["junit", "compat", "judgment"]
    junit_xml: str | None = Field(default=None, description="kind junit: the report")
    compat: dict[str, Any] | None = Field(default=None, description='kind compat: {"compatible": bool, ...}')
    judgment_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8,32}$",
                                    description="kind judgment: its id, or a unique prefix of 8+ characters")


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=2000)


@router.post("/candidates", status_code=201)
def register_candidate(request: Request, body: CandidateIn, caller: Operator) -> dict[str, Any]:
    row = flow.register(_p(request), [a.model_dump() for a in body.artifacts], caller.actor, body.alias, body.fixes,
                        body.source)
    return flow.candidate_view(row)


@router.get("/candidates/{candidate_id}")
def get_candidate(request: Request, candidate_id: str, _: Viewer) -> dict[str, Any]:
    return flow.show_candidate(_p(request), candidate_id)


@router.get("/stages")
def get_stages(request: Request, _: Viewer) -> dict[str, Any]:
    return flow.status(_p(request))


@router.post("/evaluation/promote/{candidate_id}")
def promote_candidate(
    request: Request,
    candidate_id: str,
    caller: Operator,
    body: PromoteIn | None = None,
    force: Annotated[bool, Query(description="a forced promotion (admin, justification; then confirm)")] = False,
    idempotency_key: Annotated[str | None, Header(max_length=120)] = None,
) -> dict[str, Any]:
    """Promote a candidate into its next stage (or ``to_stage``); the attempt runs or queues. A forced one
    waits (``awaiting_second``) for ``POST /attempts/{id}/confirm`` by another approver's token."""
    body = body or PromoteIn()
    if force and caller.role != "admin":
        raise HTTPException(403, f"a forced promotion needs an admin token; {caller.name!r} is {caller.role}")
    attempt = flow.promote(_p(request), candidate_id, body.to_stage, caller.actor, admin=caller.role == "admin",
                           idempotency_key=idempotency_key, force=force, justification=body.justification,
                           queue=body.queue)
    return flow.attempt_view(attempt)


@router.post("/attempts/{attempt_id}/confirm")
def confirm_forced(request: Request, attempt_id: str, caller: Approver) -> dict[str, Any]:
    """The second person of a forced promotion: a different identity with the approver (or admin) role."""
    return flow.attempt_view(flow.confirm(_p(request), attempt_id, caller.actor))


@router.post("/evaluation/quarantine/{candidate_id}")
def quarantine_candidate(request: Request, candidate_id: str, body: QuarantineIn, caller: Operator) -> dict[str, Any]:
    row = flow.quarantine(_p(request), candidate_id, body.reason_code, body.reason, caller.actor, body.impact_analysis)
    return flow.quarantine_view(row)


@router.get("/quarantine/records")
def quarantine_records(
    request: Request,
    _: Viewer,
    reason_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    return {"items": flow.quarantine_records(_p(request), limit, offset, reason_code), "limit": limit,
            "offset": offset}


@router.get("/quarantine/statistics")
def quarantine_statistics(request: Request, _: Viewer) -> dict[str, Any]:
    return flow.quarantine_statistics(_p(request))


@router.get("/attempts/{attempt_id}")
def get_attempt(request: Request, attempt_id: str, _: Viewer) -> dict[str, Any]:
    return flow.show_attempt(_p(request), attempt_id)


@router.post("/attempts/{attempt_id}/evidence", status_code=201)
def add_evidence(request: Request, attempt_id: str, body: EvidenceIn, caller: Operator) -> dict[str, str]:
    p = _p(request)
    if body.kind == "junit":
        if not body.junit_xml:
            raise flow.PromotionError("kind junit needs junit_xml")
        evidence_id = flow.add_evidence(p, attempt_id, "junit", parse_junit(body.junit_xml, "junit_xml"), caller.actor)
    elif body.kind == "compat":
        if body.compat is None or not isinstance(body.compat.get("compatible"), bool):
            raise flow.PromotionError('kind compat needs compat: {"compatible": true|false, ...}')
        evidence_id = flow.add_evidence(p, attempt_id, "compat", body.compat, caller.actor)
    else:
        if not body.judgment_id:
            raise flow.PromotionError("kind judgment needs judgment_id")
        evidence_id = flow.add_judgment(p, attempt_id, body.judgment_id, caller.actor)
    return {"id": evidence_id}


@router.post("/attempts/{attempt_id}/approvals", status_code=201)
def approve(request: Request, attempt_id: str, body: ApprovalIn, caller: Operator) -> dict[str, str]:
    payload = {"by": caller.actor, "comment": body.comment}
    return {"id": flow.add_evidence(_p(request), attempt_id, "approval", payload, caller.actor)}


@router.post("/attempts/{attempt_id}/evaluate")
def evaluate(request: Request, attempt_id: str, caller: Operator) -> dict[str, Any]:
    """Run the stage's gate; the evaluation recorded (its id is what ``audit recompute`` takes)."""
    return flow.evaluation_view(flow.evaluate(_p(request), attempt_id, caller.actor))


@router.get("/audit")
def audit(
    request: Request,
    _: Viewer,
    candidate: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="only events with a smaller seq")] = None,
) -> dict[str, Any]:
    """Audit events, the newest ``limit`` (oldest first); page back with ``before`` = the first seq seen."""
    return {"items": flow.audit_log(_p(request), limit, candidate, before)}


@router.get("/audit/verify")
def audit_verify(request: Request, _: Viewer) -> dict[str, Any]:
    result = flow.verify_audit(_p(request))
    return {"ok": result.ok, "events": result.events, "first_break": result.first_break, "detail": result.detail}


@router.get("/health/slo")
def health_slo(request: Request, _: Viewer) -> dict[str, Any]:
    """Per stage: error rate and p95 of the pods serving there, from Prometheus, against the SLO."""
    return {"stages": stage_slos(_p(request).pipeline, request.app.state.analyzer)}

