"""`canary-analyzer rollout create -f FILE` against the Kubernetes API emulator: the exact requests, as the plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from analyzer.cli import app
from tests.support.kube import cluster

runner = CliRunner()
TEMPLATES = Path(__file__).parents[2] / "analysis-templates"
ARGO = "/apis/argoproj.io/v1alpha1"


@pytest.fixture
def k8s(tmp_path):
    with cluster(tmp_path) as c:
        yield c


def _create(k8s, *args: str):
    return runner.invoke(app, ["rollout", "create", *args, "--kubeconfig", str(k8s.kubeconfig)])


def _docs(*names: str) -> list[dict]:
    return [yaml.safe_load((TEMPLATES / name).read_text()) for name in names]


def test_each_document_is_posted_to_its_collection_and_named(k8s, tmp_path):
    both = tmp_path / "both.yaml"
    both.write_text((TEMPLATES / "cluster-analysis-template.yaml").read_text() + "\n---\n"
                    + (TEMPLATES / "analysis-template.yaml").read_text())
    result = _create(k8s, "-f", str(both), "-f", str(TEMPLATES / "example-rollout.yaml"), "-n", "payments")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "clusteranalysistemplate.argoproj.io/canary-analyzer created",
        "analysistemplate.argoproj.io/canary-analyzer created",
        "rollout.argoproj.io/checkout created",
    ]
    cluster_template, template, rollout = _docs("cluster-analysis-template.yaml", "analysis-template.yaml",
                                                "example-rollout.yaml")
    assert k8s.calls() == [
        ("POST", f"{ARGO}/clusteranalysistemplates", "application/json", cluster_template),
        ("POST", f"{ARGO}/namespaces/payments/analysistemplates", "application/json", template),  # -n: it names none
        ("POST", f"{ARGO}/namespaces/shop/rollouts", "application/json", rollout),  # its own namespace wins
    ]


def test_json_is_what_the_api_stored_and_name_the_resources(k8s):
    stored = json.loads(_create(k8s, "-f", str(TEMPLATES / "example-rollout.yaml"), "-o", "json").stdout)
    assert stored["kind"] == "Rollout" and stored["metadata"]["name"] == "checkout"
    named = _create(k8s, "-f", str(TEMPLATES / "analysis-template.yaml"), "-o", "name")
    assert named.stdout == "analysistemplate.argoproj.io/canary-analyzer\n"


def test_a_malformed_document_sends_nothing(k8s, tmp_path):
    rollout, = _docs("example-rollout.yaml")
    rollout["spec"]["strategy"]["canary"]["stepz"] = []
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout"}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([_docs("cluster-analysis-template.yaml")[0], rollout, service]))
    result = _create(k8s, "-f", str(bad))
    assert result.exit_code == 4
    assert "Rollout/checkout: spec.strategy.canary: Additional properties are not allowed ('stepz'" in result.stderr
    assert "Service/checkout: kind: Invalid value: \"v1/Service\": only Rollout, AnalysisTemplate" in result.stderr
    assert "nothing created: 2 problem(s)" in result.stderr
    assert k8s.calls() == []


def test_the_api_saying_no_is_exit_4_with_the_object_named(k8s, tmp_path):
    example = str(TEMPLATES / "example-rollout.yaml")
    assert _create(k8s, "-f", example).exit_code == 0
    again = _create(k8s, "-f", example)
    assert again.exit_code == 4 and "rollouts shop/checkout already exists" in again.stderr
    assert _create(k8s, "-f", str(tmp_path / "none.yaml")).exit_code == 2
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n")
    assert _create(k8s, "-f", str(empty)).exit_code == 2
    assert "Traceback" not in again.output


HASHES = ["-a", "namespace=shop", "-a", "rollout=checkout", "-a", "canary-hash=6b9c4d4f8",
          "-a", "stable-hash=5d8f7c9b7"]


def test_create_analysisrun_from_a_cluster_template_in_the_cluster(k8s):
    k8s.put(f"{ARGO}/clusteranalysistemplates", _docs("cluster-analysis-template.yaml")[0])
    result = _create(k8s, "analysisrun", "--from", "canary-analyzer", "--global", *HASHES, "-n", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout == "analysisrun.argoproj.io/canary-analyzer-00001 created\n"
    (get, post) = k8s.calls()
    assert get[:2] == ("GET", f"{ARGO}/clusteranalysistemplates/canary-analyzer")
    assert post[:3] == ("POST", f"{ARGO}/namespaces/shop/analysisruns", "application/json")
    assert post[3]["metadata"]["generateName"] == "canary-analyzer-"
    assert {a["name"]: a.get("value") for a in post[3]["spec"]["args"]}["canary-hash"] == "6b9c4d4f8"


def test_create_analysisrun_from_a_file_with_a_name(k8s):
    result = _create(k8s, "ar", "--from-file", str(TEMPLATES / "analysis-template.yaml"), "--name", "manual-1",
                     *HASHES, "-o", "name")
    assert result.exit_code == 0, result.output
    assert result.stdout == "analysisrun.argoproj.io/manual-1\n"
    assert [c[:2] for c in k8s.calls()] == [("POST", f"{ARGO}/namespaces/shop/analysisruns")]


def test_create_analysisrun_refuses_what_the_plugin_refuses(k8s):
    template = str(TEMPLATES / "analysis-template.yaml")
    assert _create(k8s, "analysisrun", *HASHES).exit_code == 2  # neither --from nor --from-file
    assert _create(k8s, "analysisrun", "--from", "x", "--from-file", template).exit_code == 2
    assert _create(k8s, "analysisrun", "--from-file", template, "-a", "no-equals").exit_code == 2
    missing = _create(k8s, "analysisrun", "--from-file", template)
    assert missing.exit_code == 4 and "args.namespace was not resolved" in missing.stderr
    wrong_kind = _create(k8s, "analysisrun", "--from-file", template, "--global", *HASHES)
    assert wrong_kind.exit_code == 4 and "holds no ClusterAnalysisTemplate" in wrong_kind.stderr
    absent = _create(k8s, "analysisrun", "--from", "nope", *HASHES)
    assert absent.exit_code == 4 and "analysistemplates shop/nope not found" in absent.stderr
    assert k8s.calls()[-1][0] == "GET" and all(c[0] == "GET" for c in k8s.calls())  # nothing was created
    assert _create(k8s).exit_code == 2  # `create` alone: -f is needed


def test_watch_follows_the_created_rollout_or_experiment_until_it_settles(k8s, tmp_path):
    from tests.support.argo_objects import experiment

    done = experiment(phase="Successful")
    del done["metadata"]["creationTimestamp"], done["metadata"]["uid"], done["metadata"]["ownerReferences"]
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(done))
    watched = _create(k8s, "-f", str(tmp_path / "exp.yaml"), "-w")
    assert watched.exit_code == 0, watched.output
    lines = watched.stdout.splitlines()
    assert lines[0] == f"experiment.argoproj.io/{done['metadata']['name']} created"
    assert any(line.startswith("Status") and "Successful" in line for line in lines[1:])
    rollout, = _docs("example-rollout.yaml")
    rollout["status"] = {"phase": "Healthy"}
    (tmp_path / "ro.yaml").write_text(yaml.safe_dump(rollout))
    followed = _create(k8s, "-f", str(tmp_path / "ro.yaml"), "--watch", "-o", "name")
    assert followed.stdout == "rollout.argoproj.io/checkout\nrollout/checkout\n"
    k8s.forget_calls()
    several = _create(k8s, "-f", str(tmp_path / "exp.yaml"), "-f", str(tmp_path / "ro.yaml"), "-w")
    assert several.exit_code == 2 and "several objects" in several.stderr
    assert _create(k8s, "-f", str(TEMPLATES / "analysis-template.yaml"), "-w").exit_code == 2
    assert k8s.calls() == []
