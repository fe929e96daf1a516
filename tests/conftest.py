from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate
from tests.support.openmetrics import Deployment, write_openmetrics
from tests.support.postgres import postgres
from tests.support.prometheus import backfill, prometheus

FIXTURES = Path(__file__).parent / "fixtures"

STEP = 60
STEPS = 30


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def _scenario(**changes: object) -> Scenario:
    base = {
        "steps": STEPS,
        "rps": 200.0,
        "canary_share": 0.2,
        "latency": Latency(median=0.08, sigma=0.5),
        "buckets": FINE_BUCKETS,
    }
    return Scenario(**{**base, **changes})  # type: ignore[arg-type]


class Backfilled:
    """One Prometheus holding several canaries (one per namespace), all starting at ``start``."""

    def __init__(self, url: str, start: int, deployments: dict[str, Deployment]) -> None:
        self.url = url
        self.start = start
        self.deployments = deployments

    def args(self, scenario: str, **changes: str) -> dict[str, str]:
        d = self.deployments[scenario]
        args = {"profile": "http", "namespace": d.namespace, "rollout": "checkout",
                "canary": d.canary_hash, "stable": d.stable_hash}
        return {**args, **changes}


@pytest.fixture(scope="session")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    """Real Prometheus with canaries backfilled by promtool: healthy, errors x3, latency x1.5, none, a trickle."""
    start = (int(time.time()) // 3600 - 6) * 3600  # six hours ago, on the hour: well inside retention
    scenarios = {
        "healthy": _scenario(),
        "errors": _scenario(error_ratio=3.0),
        "latency": _scenario(latency_scale=1.5),
        "quiet": _scenario(canary_share=0.0),
        "trickle": _scenario(canary_share=0.0005),  # 0.1 canary req/s: 180 requests in 30 min
    }
    deployments = {
        name: Deployment(name, f"c{i}a{i}b", f"5{i}d{i}f", simulate(scenario, seed=11 + i), start)
        for i, (name, scenario) in enumerate(scenarios.items())
    }
    # Three canaries side by side in one namespace, for the promotion walk (each stage's Rollout there).
    for i, name in enumerate(("healthy", "errors", "latency")):
        deployments[f"shop-{name}"] = Deployment("shop", f"e{i}c{i}a", f"9{i}b{i}d", simulate(scenarios[name], 31 + i),
                                                 start)
    workdir = tmp_path_factory.mktemp("prometheus")
    backfill(write_openmetrics(list(deployments.values())), workdir / "data")
    with prometheus(workdir) as url:
        yield Backfilled(url, start, deployments)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL for the whole session (each test gets its own database from ``database_url``)."""
    with postgres() as url:
        yield url


_databases = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test runs on SQLite (a file) and on a fresh database of the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    from sqlalchemy import create_engine, text

    server = request.getfixturevalue("postgres_server")
    name = f"test_{next(_databases)}"
    engine = create_engine(server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"
