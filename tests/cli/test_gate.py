"""`canary-analyzer gate` end to end: the Kubernetes API emulator, a real Prometheus, the real ledger."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from tests.support.argo_objects import NEW_IMAGE, OLD_IMAGE, replica_set, rollout
from tests.support.kube import cluster

runner = CliRunner()
MERGE, JSON_PATCH = "application/merge-patch+json", "application/json-patch+json"


@pytest.fixture
def k8s(tmp_path, backfilled):
    """One Rollout per backfilled scenario (namespace = scenario), paused at its first step with that canary."""
    with cluster(tmp_path) as c:
        for scenario, d in backfilled.deployments.items():
            obj = rollout(namespace=scenario, currentPodHash=d.canary_hash, stableRS=d.stable_hash)
            c.put(f"/apis/argoproj.io/v1alpha1/namespaces/{scenario}/rollouts", obj)
            for pod_hash, revision, image in ((d.stable_hash, 2, OLD_IMAGE), (d.canary_hash, 3, NEW_IMAGE)):
                c.put(f"/apis/apps/v1/namespaces/{scenario}/replicasets", replica_set(obj, pod_hash, revision, image))
        yield c


def _gate(k8s, backfilled, tmp_path, scenario, *args, prometheus=None, env=None):
    environment = {
        "CANARY_ANALYZER_PROMETHEUS_URL": prometheus or backfilled.url,
        "CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "CANARY_ANALYZER_LOOKBACK_SECONDS": "43200",
        # The backfilled canaries served hours ago, then idled: no new window for a canary gone quiet.
        "CANARY_ANALYZER_WINDOW_GAP_STEPS": "1440",
        "CANARY_ANALYZER_PROMETHEUS_TIMEOUT_SECONDS": "1",
        **(env or {}),
    }
    command = ["gate", "checkout", "-n", scenario, "--kubeconfig", str(k8s.kubeconfig), "--interval", "1s", *args]
    return runner.invoke(app, command, env=environment)


def _writes(k8s):
    return [(m, p.rsplit("/", 2)[-2:], t, b) for m, p, t, b in k8s.calls() if m != "GET"]


def test_healthy_canary_is_promoted_exit_0(k8s, backfilled, tmp_path):
    result = _gate(k8s, backfilled, tmp_path, "healthy", "--timeout", "30s", "-o", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["verdict"] == "pass" and body["action"] == "promote"
    assert _writes(k8s) == [("PATCH", ["checkout", "status"], MERGE, {"status": {"pauseConditions": None}})]


def test_regressed_canary_is_aborted_and_undone_exit_1(k8s, backfilled, tmp_path):
    result = _gate(k8s, backfilled, tmp_path, "errors", "--on-fail", "undo", "-o", "json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["action"] == "abort, undo to revision 2"
    writes = _writes(k8s)
    assert writes[0] == ("PATCH", ["checkout", "status"], MERGE, {"status": {"abort": True}})
    assert writes[1][0] == "PATCH" and writes[1][2] == JSON_PATCH and writes[1][3][0]["path"] == "/spec/template"
    template = k8s.obj("rollouts", "errors", "checkout")["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == OLD_IMAGE


def test_starved_canary_times_out_inconclusive_and_stays_paused_exit_3(k8s, backfilled, tmp_path):
    result = _gate(k8s, backfilled, tmp_path, "trickle", "--timeout", "3s", "-o", "json")
    assert result.exit_code == 3, result.output
    body = json.loads(result.output)
    assert body["verdict"] == "inconclusive" and body["action"] == "pause" and body["looks"] >= 2
    assert "undecided at the timeout" in body["reason"]
    assert _writes(k8s) == [("PATCH", ["rollouts", "checkout"], MERGE, {"spec": {"paused": True}})]


def test_prometheus_down_exits_4_and_touches_nothing(k8s, backfilled, tmp_path):
    result = _gate(k8s, backfilled, tmp_path, "errors", prometheus="http://127.0.0.1:9")
    assert result.exit_code == 4
    assert "unreachable" in result.output and "nothing was changed" in result.output
    assert _writes(k8s) == []


def test_no_canary_is_reported_not_acted_on(k8s, backfilled, tmp_path):
    d = backfilled.deployments["healthy"]
    k8s.patch("/apis/argoproj.io/v1alpha1/namespaces/healthy/rollouts/checkout",
              {"status": {"currentPodHash": d.stable_hash, "phase": "Healthy", "message": None}})
    result = _gate(k8s, backfilled, tmp_path, "healthy", "--timeout", "2s", "-o", "json")
    assert result.exit_code == 3
    assert json.loads(result.output)["reason"].startswith("no canary by the timeout: the Rollout is Healthy")
    assert _writes(k8s) == []


def test_junit_and_markdown_reports(k8s, backfilled, tmp_path):
    summary = tmp_path / "summary.md"
    report = tmp_path / "junit.xml"
    result = _gate(k8s, backfilled, tmp_path, "latency", "--on-fail", "none", "-o", "junit",
                   "--output-file", str(report), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    suites = ET.fromstring(report.read_text())
    suite = suites.find("testsuite")
    assert suite is not None and suite.get("name") == "canary-gate latency/checkout"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"error-rate", "latency"}
    assert cases["latency"].find("failure") is not None
    assert int(suite.get("failures", "0")) == sum(1 for c in cases.values() if c.find("failure") is not None)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "fail"
    text = summary.read_text()
    assert "Canary gate `latency/checkout`: **fail** → none" in text and "| latency |" in text
    assert _writes(k8s) == []


def test_unknown_rollout_and_bad_arguments(k8s, backfilled, tmp_path):
    missing = _gate(k8s, backfilled, tmp_path, "nowhere")
    assert missing.exit_code == 4 and "nowhere/checkout not found" in missing.output
    bad = _gate(k8s, backfilled, tmp_path, "healthy", "--timeout", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output
