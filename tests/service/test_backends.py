"""The same canaries on a second backend: VictoriaMetrics gives the verdicts Prometheus gives, and a
profile with its own datasource is judged against another Prometheus than the global one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from analyzer.config import load_query_profile
from analyzer.service.analysis import analyse
from analyzer.settings import Settings
from analyzer.sources.queries import Target
from tests.conftest import STEP, Backfilled
from tests.support.openmetrics import write_openmetrics
from tests.support.prometheus import backfill, prometheus
from tests.support.service import Clock, make_analyzer
from tests.support.victoria import victoria_metrics

#: Each scenario's verdict, and when it is asked (steps after the canary's start, as the server tests ask).
EXPECTED = {"errors": ("fail", 20), "latency": ("fail", 20), "healthy": ("pass", 30), "quiet": ("inconclusive", 20),
            "trickle": ("inconclusive", 20)}


@pytest.fixture(scope="module")
def victoria(backfilled: Backfilled, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """VictoriaMetrics holding exactly what the session's Prometheus holds."""
    workdir = tmp_path_factory.mktemp("victoria")
    with victoria_metrics(workdir, write_openmetrics(list(backfilled.deployments.values()))) as url:
        yield url


def _target(backfilled: Backfilled, scenario: str, namespace: str | None = None) -> Target:
    d = backfilled.deployments[scenario]
    return Target(namespace=namespace or d.namespace, rollout="checkout", canary=d.canary_hash, stable=d.stable_hash)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_victoria_metrics_gives_the_verdicts_prometheus_gives(scenario, backfilled, victoria, tmp_path):
    verdict, steps = EXPECTED[scenario]
    clock = Clock(backfilled.start + steps * STEP + 5)
    looks = {}
    for backend, url in (("prometheus", backfilled.url), ("victoria-metrics", victoria)):
        settings = Settings(prometheus_url=url, database_url=f"sqlite:///{tmp_path / backend}.db")
        looks[backend] = analyse(make_analyzer(settings, clock), "http", _target(backfilled, scenario))
    prom, vm = looks["prometheus"], looks["victoria-metrics"]
    assert prom.judgment.verdict == vm.judgment.verdict == verdict, (prom.judgment.reasons, vm.judgment.reasons)
    assert prom.window == vm.window
    for p, v in zip(prom.judgment.metrics, vm.judgment.metrics, strict=True):
        assert (p.name, p.verdict, p.samples) == (v.name, v.verdict, v.samples)


def test_a_profile_with_its_own_datasource_is_judged_against_that_prometheus(backfilled, tmp_path):
    """The 'errors' canary lives only in a second Prometheus (namespace east); the global one lacks it."""
    east = dataclasses.replace(backfilled.deployments["errors"], namespace="east")
    workdir = tmp_path / "east"
    workdir.mkdir()
    backfill(write_openmetrics([east]), workdir / "data")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    profile = load_query_profile("http").model_dump(mode="json") | {"name": "http-east", "datasource": "east"}
    (profiles / "http-east.yaml").write_text(yaml.safe_dump(profile))
    target = _target(backfilled, "errors", namespace="east")
    clock = Clock(backfilled.start + 20 * STEP + 5)
    with prometheus(workdir) as url:
        settings = Settings(prometheus_url=backfilled.url, database_url=f"sqlite:///{tmp_path / 'l.db'}",
                            profiles_dir=Path(profiles), datasources={"east": {"url": url}})
        analyzer = make_analyzer(settings, clock)
        assert analyse(analyzer, "http-east", target).judgment.verdict == "fail"
        assert analyse(analyzer, "http", target).judgment.verdict == "inconclusive"  # not in the global one
        analyzer.source.ping()
