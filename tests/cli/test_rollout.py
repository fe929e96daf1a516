"""`canary-analyzer rollout …` against the Kubernetes API emulator, as a user types it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from tests.support.argo_objects import CANARY, rollout
from tests.support.kube import cluster

runner = CliRunner()
ROLLOUTS = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"


@pytest.fixture
def k8s(tmp_path):
    with cluster(tmp_path) as c:
        c.put(ROLLOUTS, rollout())
        yield c


def _run(k8s, *args: str, tmp_path=None):
    env = {"CANARY_ANALYZER_DATABASE_URL": "sqlite:///" + str(k8s.kubeconfig.parent / "ledger.db")}
    return runner.invoke(app, ["rollout", *args, "--kubeconfig", str(k8s.kubeconfig)], env=env)


def test_get_shows_the_rollout_and_json_is_the_status(k8s):
    table = _run(k8s, "get", "checkout")
    assert table.exit_code == 0, table.output
    assert "Paused – CanaryPauseStep" in table.output and CANARY in table.output and "1/6 (pause)" in table.output
    as_json = json.loads(_run(k8s, "get", "checkout", "-o", "json").output)
    assert as_json["set_weight"] == 20 and as_json["canary_hash"] == CANARY
    assert "set_weight: 20" in _run(k8s, "get", "checkout", "-n", "shop", "-o", "yaml").output
    assert not (k8s.kubeconfig.parent / "ledger.db").exists()  # reading the latest judgment creates no ledger


def test_list_and_status(k8s):
    listed = _run(k8s, "list")
    assert listed.exit_code == 0 and "checkout" in listed.output
    status = _run(k8s, "status", "checkout")
    assert status.exit_code == 0 and "Paused - CanaryPauseStep" in status.output


def test_actions_report_what_they_did(k8s):
    assert "rollout 'checkout' promoted" in _run(k8s, "promote", "checkout").output
    assert "rollout 'checkout' aborted" in _run(k8s, "abort", "checkout").output
    assert k8s.obj("rollouts", "shop", "checkout")["status"]["abort"] is True
    assert "rollout 'checkout' paused" in _run(k8s, "pause", "checkout").output
    assert "restarts at" in _run(k8s, "restart", "checkout", "--in", "30s").output
    result = _run(k8s, "set-image", "checkout", "checkout=registry.example.com/shop/checkout:v5")
    assert result.exit_code == 0
    assert k8s.obj("rollouts", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v5")


def test_errors_are_messages_with_exit_4(k8s, tmp_path):
    missing = _run(k8s, "abort", "nope")
    assert missing.exit_code == 4 and "rollouts shop/nope not found" in missing.output
    wrong_ns = _run(k8s, "get", "checkout", "-n", "other")
    assert wrong_ns.exit_code == 4 and "other/checkout not found" in wrong_ns.output
    k8s.emulator.forbidden = {"PATCH"}
    forbidden = _run(k8s, "abort", "checkout")
    assert forbidden.exit_code == 4 and "forbidden" in forbidden.output
    no_config = runner.invoke(app, ["rollout", "get", "checkout", "--kubeconfig", str(tmp_path / "none")])
    assert no_config.exit_code == 4 and "kubeconfig" in no_config.output
    bad = _run(k8s, "set-image", "checkout", "no-equals-sign")
    assert bad.exit_code == 2
    assert "Traceback" not in missing.output + forbidden.output + no_config.output


def test_status_watch_exit_codes(k8s):
    path = f"{ROLLOUTS}/checkout"
    k8s.patch(path, {"status": {"phase": "Degraded", "message": "RolloutAborted: metric canary-judge failed"}})
    degraded = _run(k8s, "status", "checkout", "--watch", "--timeout", "5s")
    assert degraded.exit_code == 1 and "Degraded - RolloutAborted" in degraded.output
    k8s.patch(path, {"status": {"phase": "Paused", "message": "CanaryPauseStep"}})
    assert _run(k8s, "status", "checkout", "--watch", "--timeout", "0s").exit_code == 3
    k8s.patch(path, {"status": {"phase": "Healthy", "message": None}})
    assert _run(k8s, "status", "checkout", "--watch").exit_code == 0


def test_get_shows_the_canarys_latest_judgment_from_the_ledger(k8s):
    from datetime import UTC, datetime

    from analyzer.store import Database, JudgmentRecord, WindowKey
    from analyzer.store.judgments import new_id, save_judgment
    from tests.support.argo_objects import STABLE

    database = Database("sqlite:///" + str(k8s.kubeconfig.parent / "ledger.db"))
    database.migrate()
    record = JudgmentRecord(
        id=new_id(), created_at=datetime(2026, 11, 22, 6, 1, 2, tzinfo=UTC),
        key=WindowKey("shop", "checkout", "http", CANARY, STABLE), verdict="fail", score=0.0, steps=7,
        window_start=0, window_end=420, step_seconds=60, input_digest="sha256:x",
        body={"reasons": ["error-rate: regression: canary 3.1% vs stable 1.0%"]},
    )
    with database.session() as session:
        save_judgment(session, record)
    shown = _run(k8s, "get", "checkout").output
    assert "fail (score 0, 06:01:02) error-rate: regression" in shown
