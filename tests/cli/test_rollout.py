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
    assert "Paused – CanaryPauseStep" in table.output and CANARY in table.output
    assert "2/6 (pause)" in table.output  # currentStepIndex 1 is the second step: steps count from 1
    as_json = json.loads(_run(k8s, "get", "checkout", "-o", "json").output)
    assert as_json["set_weight"] == 20 and as_json["canary_hash"] == CANARY
    assert "set_weight: 20" in _run(k8s, "get", "checkout", "-n", "shop", "-o", "yaml").output
    assert _run(k8s, "get", "rollout", "checkout", "-o", "name").output == "rollout/checkout\n"  # the plugin's form
    assert _run(k8s, "get", "analysisrun", "x").exit_code == 2  # only rollouts and experiments are shown
    assert not (k8s.kubeconfig.parent / "ledger.db").exists()  # reading the latest judgment creates no ledger


def test_list_and_status(k8s):
    listed = _run(k8s, "list")
    assert listed.exit_code == 0 and "checkout" in listed.output and "2/6" in listed.output
    assert CANARY in _run(k8s, "list", "rollouts", "-o", "wide").output
    assert _run(k8s, "list", "--name", "other", "-o", "name").output == ""
    status = _run(k8s, "status", "checkout", "--no-watch")
    assert status.exit_code == 0 and "Paused - CanaryPauseStep" in status.output


def test_actions_report_what_they_did(k8s):
    assert "rollout 'checkout' promoted" in _run(k8s, "promote", "checkout").output
    assert "rollout 'checkout' aborted" in _run(k8s, "abort", "checkout").output
    assert k8s.obj("rollouts", "shop", "checkout")["status"]["abort"] is True
    assert "rollout 'checkout' paused" in _run(k8s, "pause", "checkout").output
    assert "rollout 'checkout' restarts in 30s" in _run(k8s, "restart", "checkout", "-i", "30s").output
    assert "rollout 'checkout' retried" in _run(k8s, "retry", "rollout", "checkout").output
    for command in (("set", "image"), ("set-image",)):
        result = _run(k8s, *command, "checkout", "checkout=registry.example.com/shop/checkout:v5")
        assert result.exit_code == 0 and 'rollout "checkout" image updated' in result.output
    assert k8s.obj("rollouts", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v5")


def test_terminate_an_analysis_run(k8s):
    runs = "/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns"
    k8s.put(runs, {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
                   "metadata": {"name": "checkout-run", "namespace": "shop"}, "spec": {"metrics": []}})
    done = _run(k8s, "terminate", "analysisrun", "checkout-run")
    assert done.exit_code == 0 and "analysisRun 'checkout-run' terminated" in done.output
    assert k8s.obj("analysisruns", "shop", "checkout-run")["spec"]["terminate"] is True
    assert _run(k8s, "terminate", "ar", "nope").exit_code == 4


def test_version_as_the_plugin_prints_it():
    from analyzer import __version__

    assert runner.invoke(app, ["rollout", "version", "--short"]).output == f"{__version__}\n"
    assert runner.invoke(app, ["rollout", "version"]).output == f"canary-analyzer {__version__}\n"


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
    bad = _run(k8s, "set", "image", "checkout", "no-equals-sign")
    assert bad.exit_code == 2
    assert "Traceback" not in missing.output + forbidden.output + no_config.output


def test_status_exit_codes_are_the_plugins(k8s):
    """Watching is the default; Healthy exits 0, Degraded 1 (watching or not), the timeout 1."""
    path = f"{ROLLOUTS}/checkout"
    k8s.patch(path, {"status": {"phase": "Degraded", "message": "RolloutAborted: metric canary-judge failed"}})
    degraded = _run(k8s, "status", "checkout", "--timeout", "5s")
    assert degraded.exit_code == 1 and "Degraded - RolloutAborted" in degraded.output
    assert "degraded state with message: RolloutAborted" in degraded.output
    once = _run(k8s, "status", "checkout", "--no-watch")
    assert once.exit_code == 1 and once.output.startswith("Degraded\n")  # settled: no message, as the plugin
    k8s.patch(path, {"status": {"phase": "Paused", "message": "CanaryPauseStep"}})
    timed_out = _run(k8s, "status", "checkout", "-t", "1s")
    assert timed_out.exit_code == 1 and "exceeded timeout" in timed_out.output
    k8s.patch(path, {"status": {"phase": "Healthy", "message": None}})
    assert _run(k8s, "status", "checkout").exit_code == 0


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


def test_lists_fold_long_names_at_80_columns_and_never_cut_them(k8s):
    long_ns, long_name = "payments-production-eu", "checkout-payments-service-eu-west-1-canary"
    k8s.delete(f"{ROLLOUTS}/checkout")
    k8s.put(f"/apis/argoproj.io/v1alpha1/namespaces/{long_ns}/rollouts", rollout(namespace=long_ns, name=long_name))
    lines = _run(k8s, "list", "-A", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "CANARY", "STABLE"]
    assert max(map(len, lines)) <= 80 and len(lines) > 2  # folded onto more lines, not cut with "…"
    start, end = lines[0].index(" NAME ") + 1, lines[0].index("STRATEGY")
    assert "".join(line[:start].strip() for line in lines[1:]) == long_ns
    assert "".join(line[start:end].strip() for line in lines[1:]) == long_name


def test_actions_print_the_state_afterwards_with_o_json_and_the_name_with_o_name(k8s):
    aborted = _run(k8s, "abort", "checkout", "-o", "json")
    assert aborted.exit_code == 0, aborted.output
    assert json.loads(aborted.stdout)["aborted"] is True  # read back after the patch, as `get -o json` shows it
    assert [c[:2] for c in k8s.calls()] == [("PATCH", f"{ROLLOUTS}/checkout/status"), ("GET", f"{ROLLOUTS}/checkout")]
    assert "paused: true" in _run(k8s, "pause", "checkout", "-o", "yaml").stdout
    assert _run(k8s, "retry", "rollout", "checkout", "-o", "name").stdout == "rollout/checkout\n"
    assert _run(k8s, "abort", "nope", "-o", "json").exit_code == 4


def test_list_watch_prints_a_line_for_each_change_with_its_time(k8s, monkeypatch):
    """The plugin's `list rollouts -w --timestamps`: the table, then a line per changed Rollout."""
    import re
    import time
    import types

    from analyzer.cli import rollout_views

    polls = []

    def sleep(seconds: float) -> None:  # the Rollout goes Healthy before the second poll, then stays so
        polls.append(seconds)
        if len(polls) == 2:
            k8s.patch(f"{ROLLOUTS}/checkout", {"status": {"phase": "Healthy"}})
        time.sleep(0.01)

    monkeypatch.setattr(rollout_views, "time", types.SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    watched = _run(k8s, "list", "rollouts", "-w", "--timestamps", "--timeout", "1s")
    assert watched.exit_code == 0, watched.output
    lines = watched.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "STRATEGY", "STATUS"] and "Paused" in lines[1]
    updates = [line for line in lines[2:] if line.strip()]
    assert len(updates) == 1 and len(polls) > 5, (lines, len(polls))  # one change, once: unchanged polls print nothing
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  checkout  canary  Healthy", updates[0]), updates
    assert _run(k8s, "list", "experiments", "-w").exit_code == 2  # rollouts only
    assert _run(k8s, "list", "-w", "-o", "json").exit_code == 2  # a table only
