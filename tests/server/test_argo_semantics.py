"""The shipped templates, run by a re-enactment of Argo's web provider against the running service.

Each look advances the service's clock by the template's interval (Argo's 10 s after an Error), so a
30-minute AnalysisRun takes a second. The service runs in uvicorn on a real socket; Prometheus is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.argo import run_metric
from tests.support.service import Clock, live_server, make_app

TEMPLATES = Path(__file__).parents[2] / "analysis-templates"
TOKEN = "argo-token-from-a-secret"
SECRETS = {("canary-analyzer-token", "token"): TOKEN}


def _template(name: str) -> dict:
    return yaml.safe_load((TEMPLATES / name).read_text())


def _args(backfilled, scenario: str, **changes: str) -> dict[str, str]:
    args = backfilled.args(scenario, **changes)
    return {
        "namespace": args["namespace"],
        "rollout": args["rollout"],
        "canary-hash": args["canary"],
        "stable-hash": args["stable"],
    }


@pytest.fixture
def argo(backfilled, tmp_path):
    """Run a template against a live service whose clock starts after the Rollout's 2-minute pause."""

    def run(template: str, scenario: str, prometheus_url: str | None = None, looks: int = 200, **changes: str):
        settings = settings_for(
            prometheus_url or backfilled.url,
            tmp_path / scenario,
            api_tokens=[TOKEN],
            prometheus_timeout_seconds=1.0,
        )
        (tmp_path / scenario).mkdir(exist_ok=True)
        clock = Clock(backfilled.start + 2 * STEP + 5)
        app, _ = make_app(settings, clock)
        with live_server(app) as url:
            return run_metric(
                _template(template), _args(backfilled, scenario, **changes), url, clock.advance, SECRETS, looks
            )

    return run


@pytest.mark.parametrize("template", ["cluster-analysis-template.yaml", "analysis-template.yaml"])
def test_healthy_canary_run_is_successful(argo, template):
    run = argo(template, "healthy")
    assert run.phase == "Successful"
    assert run.measurements[-1] == "Successful"
    assert "Failed" not in run.measurements


def test_error_regression_run_fails_at_the_first_fail(argo):
    run = argo("cluster-analysis-template.yaml", "errors")
    assert run.phase == "Failed"
    assert run.measurements.count("Failed") == 1
    assert len(run.measurements) <= 5


def test_latency_regression_run_fails(argo):
    assert argo("cluster-analysis-template.yaml", "latency").phase == "Failed"


def test_too_little_traffic_is_inconclusive_at_the_horizon(argo):
    run = argo("cluster-analysis-template.yaml", "trickle")
    assert run.phase == "Inconclusive"
    assert run.measurements == ["Inconclusive"] * 30  # every look undecided, none paused early
    assert "not enough data to pass" in " ".join(run.bodies[-1]["reasons"])


def test_prometheus_down_errors_the_run_after_thirteen_errors(argo):
    """consecutiveErrorLimit 12: two minutes of 503s (Argo retries every 10 s) before the run errors."""
    run = argo("cluster-analysis-template.yaml", "healthy", prometheus_url="http://127.0.0.1:9")
    assert run.phase == "Error"
    assert run.measurements == ["Error"] * 13


def test_background_template_aborts_on_fail_and_never_pauses(argo):
    assert argo("background-analysis-template.yaml", "errors").phase == "Failed"
    run = argo("background-analysis-template.yaml", "trickle", looks=20)
    assert run.phase == "Running"  # inconclusive looks count as successes in background: no pause
    assert set(run.measurements) == {"Successful"}


def test_wrong_token_makes_every_measurement_an_error(backfilled, tmp_path):
    settings = settings_for(backfilled.url, tmp_path, api_tokens=["another-token"])
    clock = Clock(backfilled.start + 2 * STEP + 5)
    app, _ = make_app(settings, clock)
    with live_server(app) as url:
        run = run_metric(
            _template("cluster-analysis-template.yaml"), _args(backfilled, "healthy"), url, clock.advance, SECRETS
        )
    assert run.phase == "Error"
