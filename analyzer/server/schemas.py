"""API models: what the endpoints accept and answer (apart from the database tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from analyzer.model import Judgment
from analyzer.server.links import ReportLinks
from analyzer.sources.queries import Namespace, PodTemplateHash, ProfileName, RolloutName, Target
from analyzer.store import JudgmentRecord


def _iso_8601(value: object) -> object:
    """A time is written as ISO 8601: a bare number (``until=0.5``) is refused, not read as epoch seconds."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.lstrip("+-").replace(".", "", 1).isdigit()):
        raise ValueError("expected an ISO 8601 date-time (2026-12-01T14:00:00Z), not a number")
    return value


#: A query's time bound: ISO 8601 only, as the OpenAPI document says (``format: date-time``).
Instant = Annotated[datetime, BeforeValidator(_iso_8601)]


def _empty_is_none(value: object) -> object:
    """The templates' default ``step`` arg is empty (``&step=``): the same as no step."""
    return None if value == "" else value


class AnalysisRequest(BaseModel):
    """The arguments of one look, as query parameters (GET) or a JSON body (POST)."""

    model_config = ConfigDict(extra="forbid")

    profile: ProfileName = Field(default="http", description="query profile configured on the server")
    namespace: Namespace = Field(description="the Rollout's namespace (DNS-1123 label)")
    rollout: RolloutName = Field(description="the Rollout's name (DNS-1123 subdomain)")
    canary: PodTemplateHash = Field(description="canary pod-template hash (podTemplateHashValue: Latest)")
    stable: PodTemplateHash = Field(description="stable pod-template hash (podTemplateHashValue: Stable)")
    step: Annotated[int | None, BeforeValidator(_empty_is_none)] = Field(
        default=None, ge=0, le=10_000,
        description="the Rollout's status.currentStepIndex (a step's analysis): pass evidence only from this step on;"
        " empty or absent: the whole window (a background analysis, an Experiment)",
    )

    def target(self) -> Target:
        return Target(namespace=self.namespace, rollout=self.rollout, canary=self.canary, stable=self.stable)


class FieldProblem(BaseModel):
    field: str = Field(description="the argument or body field, dotted (``artifacts.0.image``)")
    message: str


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details, ``application/problem+json``): what went wrong and where."""

    model_config = ConfigDict(extra="allow")  # an answer may add members (``auth`` on /readyz, ``request_id``)

    type: str = Field(default="about:blank")
    title: str = Field(description="the kind of problem, the same for every occurrence")
    status: int = Field(ge=400, le=599, description="the HTTP status")
    detail: str = Field(description="this occurrence, in a sentence (a URL's credentials never appear)")
    errors: list[FieldProblem] | None = Field(default=None, description="the fields at fault, when there are any")


class WindowOut(BaseModel):
    start: datetime
    end: datetime
    step_seconds: int


class _Recorded(BaseModel):
    """Where a judgment is kept and what it was about."""

    id: str
    report: str = Field(description="the judgment's report page: a signed link that expires, no token needed")
    created_at: datetime
    profile: str
    namespace: str
    rollout: str
    canary: str
    stable: str


class AnalysisResult(Judgment, _Recorded):
    """A Judgment plus where it is kept and what it was about. Argo reads ``verdict``."""

    window: WindowOut | None = Field(description="the steps judged; null before the canary has data")


class JudgmentSummary(_Recorded):
    verdict: str
    score: float
    steps: int
    input_digest: str


class JudgmentList(BaseModel):
    items: list[JudgmentSummary]
    limit: int
    offset: int


def _when(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _recorded(record: JudgmentRecord, links: ReportLinks) -> dict[str, Any]:
    return {
        "id": record.id,
        "report": links.url(record.id),
        "created_at": record.created_at,
        "profile": record.key.profile,
        "namespace": record.key.namespace,
        "rollout": record.key.rollout,
        "canary": record.key.canary_hash,
        "stable": record.key.stable_hash,
    }


def result_of(record: JudgmentRecord, links: ReportLinks) -> AnalysisResult:
    """The API answer for a recorded judgment (validated once, from the stored JSON)."""
    start, end = _when(record.window_start), _when(record.window_end)
    window = {"start": start, "end": end, "step_seconds": record.step_seconds} if start and end else None
    return AnalysisResult.model_validate({**record.body, **_recorded(record, links), "window": window})


def summary_of(record: JudgmentRecord, links: ReportLinks) -> JudgmentSummary:
    return JudgmentSummary(
        **_recorded(record, links),
        verdict=record.verdict,
        score=record.score,
        steps=record.steps,
        input_digest=record.input_digest,
    )
