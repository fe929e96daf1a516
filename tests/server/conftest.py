from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from analyzer.service.analysis import Analyzer
from analyzer.settings import Settings
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate
from tests.conftest import STEP, STEPS, Backfilled
from tests.support.openmetrics import Deployment, write_openmetrics
from tests.support.prometheus import backfill, prometheus
from tests.support.service import Clock, make_app


@dataclass
class Service:
    client: TestClient
    clock: Clock
    analyzer: Analyzer
    settings: Settings


def settings_for(url: str, tmp_path, **changes: object) -> Settings:
    changes.setdefault("database_url", f"sqlite:///{tmp_path / 'ledger.db'}")
    changes.setdefault("insecure_no_auth", "api_tokens" not in changes)  # tests of auth name their tokens
    return Settings(prometheus_url=url, **changes)  # type: ignore[arg-type]


@pytest.fixture
def service(backfilled, tmp_path) -> Iterator[Service]:
    """The app over the backfilled Prometheus and a fresh SQLite ledger; the clock 20 steps into the canaries."""
    settings = settings_for(backfilled.url, tmp_path)
    clock = Clock(backfilled.start + 20 * STEP + 5)
    app, analyzer = make_app(settings, clock)
    with TestClient(app) as client:
        yield Service(client, clock, analyzer, settings)


@pytest.fixture(scope="session")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    """A second real Prometheus whose canaries lost series: an arm's 5xx series, one pod's, or both arms'."""
    start = (int(time.time()) // 3600 - 5) * 3600
    scenario = Scenario(steps=STEPS, rps=200.0, canary_share=0.2, latency=Latency(median=0.08, sigma=0.5),
                        buckets=FINE_BUCKETS)
    worse = dataclasses.replace(scenario, error_ratio=3.0)
    cases = {  # name: (scenario, omitted 5xx series: arms, or "pod-1" for the canary's second pod)
        "lost-canary-5xx": (worse, ("canary",)),  # a failing canary whose errors vanished: must not pass
        "lost-stable-5xx": (scenario, ("stable",)),  # a healthy canary against a stable without errors: must not fail
        "no-5xx-series": (scenario, ("canary", "stable")),  # no 5xx series anywhere: zero errors, judged
        "lazy-pod": (scenario, ("pod-1",)),  # one canary pod has not had an error yet
    }
    deployments = {}
    for i, (name, (case, omitted)) in enumerate(cases.items()):
        canary, stable = f"d{i}a{i}b", f"6{i}e{i}f"
        omit = tuple(f"checkout-{canary}-p1" if o == "pod-1" else o for o in omitted)
        deployments[name] = Deployment(name, canary, stable, simulate(case, seed=41 + i), start, omit_errors=omit)
    workdir = tmp_path_factory.mktemp("prometheus-dropped")
    backfill(write_openmetrics(list(deployments.values())), workdir / "data")
    with prometheus(workdir) as url:
        yield Backfilled(url, start, deployments)
