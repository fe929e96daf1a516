"""The FastAPI application: settings in, routers, problem handlers, logs and metrics wired."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analyzer import __version__
from analyzer.server import docs_routes, http_metrics, ledger_metrics, logs, problems, report_routes
from analyzer.server.auth import known_tokens, refuse_open, static_identities
from analyzer.server.limits import BoundedRequests
from analyzer.server.promotion_routes import router as promotion_router
from analyzer.server.routes import api, ops
from analyzer.service.analysis import Analyzer, connect
from analyzer.service.promotion import promotions_for
from analyzer.settings import Settings

_log = logging.getLogger(__name__)


def create_app(settings: Settings, analyzer: Analyzer | None = None) -> FastAPI:
    """The service. Pass ``analyzer`` to inject its parts (tests); else they are built at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = analyzer is None
        app.state.analyzer = analyzer if analyzer is not None else connect(settings)
        if owned:
            refuse_open(settings, app.state.analyzer.database)
        if settings.insecure_no_auth:
            _log.warning("insecure_no_auth: requests without a token are served as 'anonymous' (judge and read)")
        app.state.promotions = promotions_for(settings, app.state.analyzer)
        if owned:
            # What start-up built (modules, profiles, the ORM's mappers) lives as long as the process: frozen
            # out of the collector, so that the full collections a look's many small lists trigger do not
            # walk it again each time (measured: bench/service_load.py, docs/operations.md#capacity-measured).
            gc.collect()
            gc.freeze()
        yield
        if owned:
            app.state.analyzer.source.close()
            app.state.analyzer.database.dispose()

    app = FastAPI(
        title="canary-analyzer",
        version=__version__,
        summary="Canary judge for Argo Rollouts: canary vs stable from Prometheus, pass / fail / inconclusive.",
        description=(
            "Argo Rollouts' web metric provider calls `GET /api/v1/analysis` at every look. Every judgement, "
            "'not enough data' included, is HTTP 200 with a Judgment; bad arguments are 400/422 and an "
            "unreachable Prometheus or database is 503 after retries within the look's deadline of "
            f"{settings.look_deadline_seconds:g} s, all as application/problem+json."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from the package by docs_routes (no CDN)
        redoc_url=None,
    )
    app.state.static_tokens = static_identities(settings)
    app.state.known_tokens = known_tokens()
    app.state.insecure = settings.insecure_no_auth
    if analyzer is not None:
        app.state.analyzer = analyzer
        app.state.promotions = promotions_for(settings, analyzer)
    app.add_middleware(BoundedRequests, max_body_bytes=settings.max_body_bytes)  # inside the log: 413s are logged
    app.add_middleware(logs.RequestLog)
    app.add_middleware(http_metrics.HttpMetrics)  # outermost: every answer counted, 500s from the log included
    problems.install(app)
    app.include_router(api)
    app.include_router(promotion_router)
    app.include_router(ops)
    app.include_router(report_routes.router)
    app.include_router(docs_routes.router)
    app.include_router(ledger_metrics.router)
    return app
