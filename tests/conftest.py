from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate
from tests.support.openmetrics import Deployment, write_openmetrics
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

    def args(self, namespace: str, **changes: str) -> dict[str, str]:
        d = self.deployments[namespace]
        args = {"profile": "http", "namespace": namespace, "rollout": "checkout",
                "canary": d.canary_hash, "stable": d.stable_hash}
        return {**args, **changes}


@pytest.fixture(scope="session")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    """Real Prometheus with canaries backfilled by promtool: healthy, errors x3, latency x1.5, no traffic."""
    start = (int(time.time()) // 3600 - 6) * 3600  # six hours ago, on the hour: well inside retention
    scenarios = {
        "healthy": _scenario(),
        "errors": _scenario(error_ratio=3.0),
        "latency": _scenario(latency_scale=1.5),
        "quiet": _scenario(canary_share=0.0),
    }
    deployments = {
        name: Deployment(name, f"c{i}a{i}b", f"5{i}d{i}f", simulate(scenario, seed=11 + i), start)
        for i, (name, scenario) in enumerate(scenarios.items())
    }
    workdir = tmp_path_factory.mktemp("prometheus")
    backfill(write_openmetrics(list(deployments.values())), workdir / "data")
    with prometheus(workdir) as url:
        yield Backfilled(url, start, deployments)
