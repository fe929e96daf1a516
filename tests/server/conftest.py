from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from analyzer.service.analysis import Analyzer
from analyzer.settings import Settings
from tests.conftest import STEP
from tests.support.service import Clock, make_app


@dataclass
class Service:
    client: TestClient
    clock: Clock
    analyzer: Analyzer
    settings: Settings


def settings_for(url: str, tmp_path, **changes: object) -> Settings:
    changes.setdefault("database_url", f"sqlite:///{tmp_path / 'ledger.db'}")
    return Settings(prometheus_url=url, **changes)  # type: ignore[arg-type]


@pytest.fixture
def service(backfilled, tmp_path) -> Iterator[Service]:
    """The app over the backfilled Prometheus and a fresh SQLite ledger; the clock 20 steps into the canaries."""
    settings = settings_for(backfilled.url, tmp_path)
    clock = Clock(backfilled.start + 20 * STEP + 5)
    app, analyzer = make_app(settings, clock)
    with TestClient(app) as client:
        yield Service(client, clock, analyzer, settings)
