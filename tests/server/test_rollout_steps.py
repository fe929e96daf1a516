"""Windows per analysis step, on a real Prometheus: Rollouts with several setWeight steps, and an abort
then a retry, looked at as Argo looks (every minute, ``step`` = the Rollout's currentStepIndex).

Each canary is made of segments (tests/support/segments.py): 12 minutes at 20 % then 18 at 50 %, with
or without a regression that starts with the 50 % step; and a broken canary at 20 % for 10 minutes,
6 minutes scaled away (aborted), then the fixed canary at 20 % for 20 minutes (retried).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.openmetrics import Deployment, write_openmetrics
from tests.support.prometheus import backfill, prometheus
from tests.support.segments import joined
from tests.support.service import Clock, make_app

#: The Rollout's steps: setWeight 20 (0), pause 2m (1), analysis (2), setWeight 50 (3), analysis (4).
FIRST_ANALYSIS, SECOND_ANALYSIS = 2, 4
WEIGHT_CHANGE = 12  # minutes at 20 % before setWeight 50
RETRY = 16  # the fixed canary serves again from this minute


def _segment(steps: int, share: float, **changes: object) -> Scenario:
    return Scenario(steps=steps, rps=200.0, canary_share=share, latency=Latency(median=0.08, sigma=0.5),
                    buckets=FINE_BUCKETS, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Steps:
    url: str
    start: int

    def args(self, namespace: str, step: int | None) -> dict[str, str]:
        args = {"profile": "http", "namespace": namespace, "rollout": "checkout",
                "canary": f"{namespace[:4]}c1", "stable": f"{namespace[:4]}51"}
        return args if step is None else {**args, "step": str(step)}


@pytest.fixture(scope="module")
def steps_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Steps]:
    start = (int(time.time()) // 3600 - 4) * 3600
    runs = {
        "healthy": [(_segment(WEIGHT_CHANGE, 0.2), 1), (_segment(18, 0.5), 101)],
        "regress": [(_segment(WEIGHT_CHANGE, 0.2), 1), (_segment(18, 0.5, error_ratio=3.0), 101)],
        "retry": [(_segment(10, 0.2, error_ratio=3.0), 2), (_segment(RETRY - 10, 0.0), 52), (_segment(20, 0.2), 102)],
    }
    deployments = [
        Deployment(name, f"{name[:4]}c1", f"{name[:4]}51", joined(segments), start, idle=None)
        for name, segments in runs.items()
    ]
    workdir = tmp_path_factory.mktemp("steps-prometheus")
    backfill(write_openmetrics(deployments), workdir / "data")
    with prometheus(workdir) as url:
        yield Steps(url, start)


@pytest.fixture
def looks(steps_prometheus, tmp_path):
    """Look at minute ``k`` of a canary (5 s past the minute, as Argo's looks drift) with a step index."""
    clock = Clock(0)
    app, _ = make_app(settings_for(steps_prometheus.url, tmp_path), clock)
    with TestClient(app) as client:

        def look(namespace: str, minutes: range, step: int | None) -> list[dict]:
            bodies = []
            for k in minutes:
                clock.now = steps_prometheus.start + k * STEP + 5
                response = client.get("/api/v1/analysis", params=steps_prometheus.args(namespace, step))
                assert response.status_code == 200, response.text
                bodies.append(response.json())
                if bodies[-1]["verdict"] != "inconclusive":
                    break
            return bodies

        yield look


def _verdicts(bodies: list[dict]) -> str:
    return "".join(body["verdict"][0] for body in bodies)


def test_the_50_percent_step_cannot_pass_on_the_20_percent_steps_evidence(looks):
    first = looks("healthy", range(FIRST_ANALYSIS, WEIGHT_CHANGE + 1), FIRST_ANALYSIS)
    assert first[-1]["verdict"] == "pass", _verdicts(first)
    second = looks("healthy", range(WEIGHT_CHANGE + 1, 31), SECOND_ANALYSIS)
    verdicts = _verdicts(second)
    # The step's own data must reach the pass guards (5 min) before it can pass.
    assert verdicts.startswith("iiiii") and verdicts.endswith("p"), verdicts
    # A look that names no step (a background analysis) judges the whole window: it would pass at once.
    assert looks("healthy", range(WEIGHT_CHANGE + 1, WEIGHT_CHANGE + 2), None)[0]["verdict"] == "pass"


def test_a_regression_that_starts_in_step_2_is_caught_by_step_2s_analysis(looks):
    first = looks("regress", range(FIRST_ANALYSIS, WEIGHT_CHANGE + 1), FIRST_ANALYSIS)
    assert first[-1]["verdict"] == "pass", _verdicts(first)
    second = looks("regress", range(WEIGHT_CHANGE + 1, 31), SECOND_ANALYSIS)
    verdicts = _verdicts(second)
    assert "p" not in verdicts and verdicts.endswith("f") and len(verdicts) <= 6, verdicts
    assert "error-rate" in " ".join(second[-1]["reasons"])


def test_a_retry_after_an_abort_of_a_fixed_canary_can_pass(looks, steps_prometheus):
    aborted = looks("retry", range(FIRST_ANALYSIS, 10), FIRST_ANALYSIS)
    assert aborted[-1]["verdict"] == "fail", _verdicts(aborted)
    # Scaled away and not back yet: the aborted canary's data judges nothing more.
    gone = looks("retry", range(RETRY, RETRY + 1), FIRST_ANALYSIS)[0]
    assert gone["verdict"] == "inconclusive"
    assert all("served no requests in the last 6 steps" in m["reason"] for m in gone["metrics"]), gone
    retried = looks("retry", range(RETRY + 2, 37), FIRST_ANALYSIS)  # after setWeight 20 and the pause
    verdicts = _verdicts(retried)
    assert "f" not in verdicts and verdicts.endswith("p"), verdicts
    # The window starts again where the fixed canary's traffic did, not at the aborted one's.
    assert datetime.fromisoformat(retried[-1]["window"]["start"]).timestamp() == steps_prometheus.start + RETRY * STEP
