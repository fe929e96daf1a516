"""Routers: the analysis endpoint Argo calls, judgments read back, and the operations endpoints.

The analysis routes are coroutines that hand each look to the looks' own bounded pool
(:mod:`analyzer.server.look_pool`), under a deadline started when the request arrived; ``/healthz``
runs on the event loop and waits on no pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from analyzer.errors import SourceUnavailableError
from analyzer.model import Verdict
from analyzer.server import query_args
from analyzer.server.auth import AnalysisCaller, Reader
from analyzer.server.links import report_links
from analyzer.server.look_pool import LookPool, LookRefusedError
from analyzer.server.problems import problem, redact
from analyzer.server.schemas import AnalysisRequest, AnalysisResult, Instant, JudgmentList, result_of, summary_of
from analyzer.service import notify_messages
from analyzer.service.analysis import Analyzer, StoreUnavailableError, analyse
from analyzer.service.telemetry import exposition
from analyzer.sources.promapi import Deadline
from analyzer.store import JudgmentFilter
from analyzer.store.judgments import get_judgment, list_judgments
from analyzer.store.tokens import Identity

api = APIRouter(prefix="/api/v1")  # each route names the role it needs (analyzer.server.auth)
ops = APIRouter()


async def _analyzer(request: Request) -> Analyzer:  # a coroutine: no trip through the shared thread pool
    analyzer: Analyzer = request.app.state.analyzer
    return analyzer


AnalyzerDep = Annotated[Analyzer, Depends(_analyzer)]

_ANSWERS: dict[int | str, dict[str, object]] = {
    400: {"description": "unknown profile, or the same hash for canary and stable (problem+json)"},
    401: {"description": "missing or wrong bearer token (problem+json)"},
    403: {"description": "the token's role or namespace scope does not cover this (problem+json)"},
    422: {"description": "a missing or malformed argument, named in the problem body"},
    503: {"description": "Prometheus or the database failed after bounded retries, or every look worker is busy;"
                 " Argo retries"},
}


def _looks(request: Request, analyzer: Analyzer) -> LookPool:
    """The app's pool of look workers, made at its first look (on the event loop: no race), so that it
    exists however the app was built."""
    state = request.app.state
    pool: LookPool | None = getattr(state, "looks", None)
    if pool is None:
        settings = analyzer.settings
        pool = state.looks = LookPool(settings.look_workers, settings.look_queue_seconds)
    return pool


async def _answer(request: Request, analyzer: Analyzer, args: AnalysisRequest, caller: Identity) -> Response:
    if not caller.sees(args.namespace):
        raise HTTPException(403, f"token {caller.name!r} may not judge namespace {args.namespace}")
    deadline = Deadline(analyzer.settings.look_deadline_seconds)
    links = report_links(request)

    def look() -> str:
        analysis = analyse(analyzer, args.profile, args.target(), args.step, deadline)
        result = result_of(analysis.record, links)
        # A fail is announced once per canary (a webhook, if configured): queued, never waited for.
        notify_messages.canary_failed(analysis.record, result.report if analysis.recorded else None)
        # Serialised here, once: the hot path skips FastAPI's second validation of the response model.
        return result.model_dump_json()

    try:
        body = await _looks(request, analyzer).run(look, deadline)
    except LookRefusedError as error:
        return problem(503, "Too many looks at once", str(error))
    return Response(body, media_type="application/json")


@api.get("/analysis", response_model=AnalysisResult, responses=_ANSWERS, tags=["analysis"],
         openapi_extra={"parameters": query_args.PARAMETERS})
async def analysis_get(
    request: Request, analyzer: AnalyzerDep, caller: AnalysisCaller,
    args: Annotated[AnalysisRequest, Depends(query_args.analysis_args)],
) -> Response:
    """Judge a Rollout's canary against stable now (Argo's web provider: ``jsonPath: "{$}"``)."""
    return await _answer(request, analyzer, args, caller)


@api.post("/analysis", response_model=AnalysisResult, responses=_ANSWERS, tags=["analysis"])
async def analysis_post(
    request: Request, analyzer: AnalyzerDep, args: AnalysisRequest, caller: AnalysisCaller
) -> Response:
    """The same as GET, with the arguments as a JSON body (Argo's ``jsonBody``)."""
    return await _answer(request, analyzer, args, caller)


class JudgmentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str | None = Field(default=None, max_length=63)
    rollout: str | None = Field(default=None, max_length=253)
    canary: str | None = Field(default=None, max_length=63, description="canary pod-template hash")
    verdict: Verdict | None = None
    since: Instant | None = Field(default=None, description="created at or after (ISO 8601)")
    until: Instant | None = Field(default=None, description="created before (ISO 8601)")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


@api.get("/judgments", response_model=JudgmentList, responses=_ANSWERS, tags=["judgments"])
def judgments_list(
    request: Request, analyzer: AnalyzerDep, where: Annotated[JudgmentQuery, Query()], caller: Reader
) -> JudgmentList:
    """Recorded judgments, newest first, filtered by namespace, rollout, canary hash, verdict and time.
    A namespace-scoped token names one of its namespaces."""
    if caller.namespaces is not None and (where.namespace is None or not caller.sees(where.namespace)):
        raise HTTPException(403, f"token {caller.name!r} is scoped: name a namespace it may read")
    query = JudgmentFilter(
        namespace=where.namespace,
        rollout=where.rollout,
        canary_hash=where.canary,
        verdict=where.verdict.value if where.verdict else None,
        since=where.since,
        until=where.until,
        limit=where.limit,
        offset=where.offset,
    )
    with analyzer.database.session() as session:
        records = list_judgments(session, query)
    links = report_links(request)
    return JudgmentList(items=[summary_of(r, links) for r in records], limit=where.limit, offset=where.offset)


@api.get("/judgments/{judgment_id}", response_model=AnalysisResult, responses=_ANSWERS, tags=["judgments"])
def judgments_get(
    request: Request,
    analyzer: AnalyzerDep,
    judgment_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")],
    caller: Reader,
) -> AnalysisResult:
    """One recorded judgment with all its evidence (404 as well outside a scoped token's namespaces)."""
    with analyzer.database.session() as session:
        record = get_judgment(session, judgment_id)
    if record is None or not caller.sees(record.key.namespace):
        raise HTTPException(404, f"no judgment {judgment_id}")
    return result_of(record, report_links(request))


@ops.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. On the event loop, so that looks filling the worker threads (a slow
    Prometheus) never make the liveness probe time out and restart a pod that is only waiting."""
    return {"status": "ok"}


@ops.get("/readyz", tags=["operations"])
def readyz(request: Request, analyzer: AnalyzerDep) -> Response:
    """Readiness: the service is up and serves looks; the body says how Prometheus and the database are.

    Always 200 once started: every replica shares Prometheus and the database, so failing readiness on
    them would take every replica out of the Service at once and turn the looks' 503 with Retry-After
    (which Argo retries, ``consecutiveErrorLimit`` times) into refused connections, and a look can still
    be judged without the database. ``status`` is ``degraded`` and the failing part named when either
    does not answer (alert on it: CanaryAnalyzerPrometheusUnreachable, CanaryAnalyzerDatabaseErrors).
    ``auth`` says whether tokens are required.
    """
    parts = {"prometheus": "ok", "database": "ok"}
    try:
        analyzer.source.ping()
    except SourceUnavailableError as error:
        parts["prometheus"] = redact(str(error))
    try:
        analyzer.database.ping()
    except SQLAlchemyError as error:
        parts["database"] = redact(str(StoreUnavailableError.of(error)))
    status = "ready" if all(value == "ok" for value in parts.values()) else "degraded"
    auth = "insecure-no-auth" if request.app.state.insecure else "tokens"
    return JSONResponse({"status": status, **parts, "auth": auth})


@ops.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
def metrics() -> Response:
    """The service's own metrics in Prometheus' text format."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
