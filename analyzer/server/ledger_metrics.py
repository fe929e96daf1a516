"""Binds the ledger's metrics (per-Rollout verdicts, candidates, quarantines…) to the app's database.

A router with no routes, only a lifespan: included in the app, it points the process-wide
:data:`~analyzer.service.rollout_metrics.LEDGER` collector at this app's database while the app runs,
so that ``/metrics`` reads them at each scrape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from analyzer.service.analysis import Analyzer
from analyzer.service.rollout_metrics import LEDGER


@asynccontextmanager
async def _bound(app: FastAPI) -> AsyncIterator[None]:
    analyzer: Analyzer = app.state.analyzer
    LEDGER.bind(analyzer.database, analyzer.clock)
    try:
        yield
    finally:
        LEDGER.unbind(analyzer.database)


router = APIRouter(lifespan=_bound)
