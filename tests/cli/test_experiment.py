"""Experiments and AnalysisRuns through `canary-analyzer rollout get|list|terminate`, on the Kubernetes API emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from tests.support.argo_objects import BASELINE, CANDIDATE, analysis_run, experiment
from tests.support.kube import cluster

runner = CliRunner()
ARGO = "/apis/argoproj.io/v1alpha1"
NAME = experiment()["metadata"]["name"]


def _stamp(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def k8s(tmp_path):
    """shop: the baseline Experiment, 10 minutes into its 30, and one AnalysisRun of a Rollout."""
    with cluster(tmp_path) as c:
        obj = experiment(availableAt=_stamp(timedelta(minutes=9, seconds=30)))
        obj["metadata"]["creationTimestamp"] = _stamp(timedelta(minutes=10))
        c.put(f"{ARGO}/namespaces/shop/experiments", obj)
        run = analysis_run("shop", "checkout-6b9c4d4f8-3-2")
        run["metadata"].update(creationTimestamp=_stamp(timedelta(minutes=20)),
                               ownerReferences=[{"kind": "Rollout", "name": "checkout", "controller": True}])
        run["status"]["message"] = "Metric canary-judge is inconclusive"
        c.put(f"{ARGO}/namespaces/shop/analysisruns", run)
        yield c


def _run(k8s, *args: str):
    return runner.invoke(app, ["rollout", *args, "--kubeconfig", str(k8s.kubeconfig)])


def test_get_experiment_shows_templates_hashes_and_analyses_from_one_get(k8s):
    shown = _run(k8s, "get", "experiment", NAME)
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "Running" in text and "30m (20m left)" in text
    assert f"baseline: Running, 3/3 ready, hash {BASELINE}" in text
    assert f"canary: Running, 2/3 ready, hash {CANDIDATE}" in text
    assert f"canary-judge: Running ({NAME}-canary-judge)" in text
    assert max(map(len, text.splitlines())) <= 80
    assert k8s.calls() == [("GET", f"{ARGO}/namespaces/shop/experiments/{NAME}", "", None)]
    as_json = json.loads(_run(k8s, "get", "exp", NAME, "-o", "json").stdout)
    assert [t["pod_template_hash"] for t in as_json["templates"]] == [BASELINE, CANDIDATE]
    assert _run(k8s, "get", "experiments", NAME, "-o", "name").stdout == f"experiment/{NAME}\n"


def test_get_experiment_watch_ends_when_it_completes(k8s):
    k8s.patch(f"{ARGO}/namespaces/shop/experiments/{NAME}", {"status": {"phase": "Successful"}})
    done = _run(k8s, "get", "experiment", NAME, "--watch", "-o", "name")
    assert done.exit_code == 0 and done.stdout == f"experiment/{NAME}\n"


def test_list_experiments_has_the_plugins_columns(k8s):
    listed = _run(k8s, "list", "experiments")
    assert listed.exit_code == 0, listed.output
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "DURATION", "REMAINING", "AGE"]
    assert row.split() == [NAME, "Running", "30m", "20m", "10m"]
    assert k8s.calls() == [("GET", f"{ARGO}/namespaces/shop/experiments", "", None)]
    everywhere = _run(k8s, "list", "exp", "-A")
    assert everywhere.stdout.split()[0] == "NAMESPACE" and k8s.calls()[-1][1] == f"{ARGO}/experiments"
    assert _run(k8s, "list", "experiment", "-o", "name").stdout == f"experiment/{NAME}\n"
    none = _run(k8s, "list", "experiments", "-n", "other")
    assert none.exit_code == 0 and none.stdout == "" and "No resources found." in none.stderr


def test_list_analysisruns_names_their_owner(k8s):
    listed = _run(k8s, "list", "analysisruns")
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "OWNER", "AGE"]
    assert row.split() == ["checkout-6b9c4d4f8-3-2", "Running", "rollout/checkout", "20m"]
    wide = _run(k8s, "list", "ar", "-o", "wide").stdout
    assert wide.split()[4] == "MESSAGE" and "Metric canary-judge is" in wide and "inconclusive" in wide
    assert max(map(len, wide.splitlines())) <= 80  # the message folds: CI logs are 80 columns
    assert json.loads(_run(k8s, "list", "analysisrun", "-o", "json").stdout)[0]["owner"] == "rollout/checkout"


def test_terminate_experiment_sends_the_plugins_patch(k8s):
    done = _run(k8s, "terminate", "experiment", NAME, "-n", "shop")
    assert done.exit_code == 0 and done.stdout == f"experiment '{NAME}' terminated\n"
    assert k8s.calls() == [("PATCH", f"{ARGO}/namespaces/shop/experiments/{NAME}", "application/merge-patch+json",
                            {"spec": {"terminate": True}})]
    assert "(terminated)" in _run(k8s, "get", "experiment", NAME).stdout
    missing = _run(k8s, "terminate", "exp", "nope")
    assert missing.exit_code == 4 and "experiments shop/nope not found" in missing.stderr
    assert _run(k8s, "get", "experiment", "nope").exit_code == 4
    assert _run(k8s, "list", "replicasets").exit_code == 2


def test_terminate_with_o_json_prints_the_experiment_afterwards(k8s):
    done = _run(k8s, "terminate", "experiment", NAME, "-o", "json")
    assert done.exit_code == 0 and json.loads(done.stdout)["terminated"] is True
    assert _run(k8s, "terminate", "ar", "checkout-6b9c4d4f8-3-2", "-o", "name").stdout == (
        "analysisrun/checkout-6b9c4d4f8-3-2\n")


def test_retry_experiment_is_the_plugins_status_reset(k8s):
    done = _run(k8s, "retry", "experiment", NAME)
    assert done.exit_code == 0 and done.stdout == f"experiment '{NAME}' retried\n"
    assert k8s.calls() == [("PATCH", f"{ARGO}/namespaces/shop/experiments/{NAME}", "application/merge-patch+json",
                            {"status": None})]
