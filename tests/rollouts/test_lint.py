"""Linting manifests: files read, each Argo object against its CRD schema, references resolved across files."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from analyzer.rollouts.lint import SCHEMAS, Document, field_path, lint_documents, lint_files, read_documents

ROOT = Path(__file__).parents[2]
TEMPLATES = ROOT / "analysis-templates"


def _load(name: str) -> dict:
    return yaml.safe_load((TEMPLATES / name).read_text())


def _lint(*objects: dict) -> list[str]:
    return [str(f.problem) for f in lint_documents([Document("m.yaml", i, o) for i, o in enumerate(objects)])]


def test_every_shipped_manifest_lints_clean_alone_and_together():
    files = sorted(TEMPLATES.glob("*.yaml"))
    for path in files:
        assert lint_files([path])[1] == [], path
    documents, findings = lint_files(files)
    assert findings == [] and {d.kind for d in documents} >= {"Rollout", "ClusterAnalysisTemplate", "Secret"}


def test_the_packaged_schemas_are_the_ones_the_template_tests_use():
    fixtures = ROOT / "tests" / "fixtures" / "argo-schemas"
    for kind, name in (("Rollout", "Rollout"), ("AnalysisTemplate", "AnalysisTemplate"),
                       ("ClusterAnalysisTemplate", "AnalysisTemplate")):
        assert (fixtures / f"{kind}.json").read_text() == (SCHEMAS / f"{name}.json").read_text(), kind


def test_files_that_are_not_manifests_are_findings_with_a_place(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nspec: [unclosed\n")
    (finding,) = read_documents(broken)[1]
    assert finding.object.startswith("line ") and "not valid YAML" in str(finding)
    odd = tmp_path / "odd.yaml"
    odd.write_text("---\n- a list\n---\n---\nname: no kind\n")
    documents, findings = read_documents(odd)
    assert documents == [] and [f.object for f in findings] == ["document 1", "document 3"]
    assert all("needs apiVersion and kind" in str(f) for f in findings)


def test_the_schema_names_unknown_fields_wrong_types_and_missing_names():
    rollout = _load("example-rollout.yaml")
    typo = copy.deepcopy(rollout)
    typo["spec"]["strategy"]["canary"]["steps"][0]["setWieght"] = 20
    assert any(p.startswith("spec.strategy.canary.steps[0]: Additional properties are not allowed ('setWieght'")
               for p in _lint(typo))
    wrong = copy.deepcopy(rollout)
    wrong["spec"]["replicas"] = "five"
    assert "spec.replicas: 'five' is not of type 'integer'" in _lint(wrong)
    nameless = copy.deepcopy(_load("cluster-analysis-template.yaml"))
    del nameless["metadata"]["name"]
    assert _lint(nameless) == ["metadata.name: Required value: name or generateName is required"]
    assert _lint({**rollout, "apiVersion": "argoproj.io/v1beta1"}) == [
        'apiVersion: Invalid value: "argoproj.io/v1beta1": Argo Rollouts serves Rollout as argoproj.io/v1alpha1']


def test_field_paths_read_as_the_plugin_prints_them():
    parts = ["spec", "strategy", "canary", "steps", 2, "setWeight"]
    assert field_path(parts) == "spec.strategy.canary.steps[2].setWeight"
    assert field_path([]) == "(object)"


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout-canary"},
           "spec": {"selector": {"app": "checkout", "rollouts-pod-template-hash": "x"}}}


def test_a_service_the_rollout_names_must_select_its_pods():
    rollout = _load("example-rollout.yaml")
    rollout["spec"]["strategy"]["canary"].update(canaryService="checkout-canary", stableService="checkout-stable")
    assert _lint(rollout, SERVICE) == []  # the pod-template hash is the controller's to set
    other = copy.deepcopy(SERVICE)
    other["spec"]["selector"]["app"] = "cart"
    assert _lint(rollout, other) == ['spec.strategy.canary.canaryService: Invalid value: "checkout-canary": '
                                     'Service "checkout-canary" has unmatch label "app" in rollout']


def _with_templates(rollout: dict) -> list[dict]:
    return [rollout, _load("cluster-analysis-template.yaml"), _load("background-analysis-template.yaml")]


def test_a_template_in_the_files_must_get_every_argument_it_declares_without_a_value():
    rollout = _load("example-rollout.yaml")
    assert _lint(*_with_templates(rollout)) == []
    step = rollout["spec"]["strategy"]["canary"]["steps"][2]["analysis"]
    step["args"] = [a for a in step["args"] if a["name"] != "canary-hash"]
    assert _lint(*_with_templates(rollout)) == [
        'spec.strategy.canary.steps[2].analysis.templates: Invalid value: "templateNames: [canary-analyzer]": '
        "args.canary-hash was not resolved"]
    assert _lint(rollout) == []  # the template lives in the cluster: not checked


def test_a_step_analysis_must_end_but_a_background_one_may_run_on():
    step_template = _load("cluster-analysis-template.yaml")
    del step_template["spec"]["metrics"][0]["count"]
    problems = _lint(_load("example-rollout.yaml"), step_template, _load("background-analysis-template.yaml"))
    assert len(problems) == 2  # the two analysis steps
    assert all("ClusterAnalysisTemplate canary-analyzer has metric canary-judge which runs indefinitely" in p
               for p in problems)
    background = _load("background-analysis-template.yaml")
    assert "count" not in background["spec"]["metrics"][0]  # the shipped background template runs all along


def test_two_templates_of_one_analysis_may_not_share_a_metric_name():
    rollout = _load("example-rollout.yaml")
    second = copy.deepcopy(_load("cluster-analysis-template.yaml"))
    second["metadata"]["name"] = "second"
    rollout["spec"]["strategy"]["canary"]["steps"][2]["analysis"]["templates"].append(
        {"templateName": "second", "clusterScope": True})
    problems = _lint(*_with_templates(rollout), second)
    assert problems == ['spec.strategy.canary.steps[2].analysis.templates: Invalid value: '
                        '"templateNames: [canary-analyzer second]": two metrics have the same name \'canary-judge\'']


@pytest.mark.parametrize("cluster_scope", [True, False])
def test_a_namespaced_and_a_cluster_template_of_one_name_are_not_confused(cluster_scope):
    rollout = _load("example-rollout.yaml")
    namespaced = _load("analysis-template.yaml")
    namespaced["metadata"]["name"] = "canary-analyzer"
    del namespaced["spec"]["metrics"][0]["count"]
    for step in (2, 4):
        rollout["spec"]["strategy"]["canary"]["steps"][step]["analysis"]["templates"][0]["clusterScope"] = cluster_scope
    problems = _lint(rollout, namespaced)
    assert bool(problems) is not cluster_scope  # only the namespaced reference reaches the broken template


def _ingress(version: str, service: str) -> dict:
    backend = {"service": {"name": service, "port": {"name": "http"}}} if version == "networking.k8s.io/v1" else {
        "serviceName": service, "servicePort": "http"}
    return {"apiVersion": version, "kind": "Ingress", "metadata": {"name": "checkout"},
            "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": backend}]}}]}}


@pytest.mark.parametrize("version", ["networking.k8s.io/v1", "extensions/v1beta1"])
def test_an_ingress_nginx_splits_must_route_to_the_stable_service(version):
    """What Argo's controller refuses at run time (the plugin's lint never matches such an Ingress)."""
    rollout = _load("example-rollout.yaml")
    rollout["spec"]["strategy"]["canary"].update(canaryService="checkout-canary", stableService="checkout-stable",
                                                 trafficRouting={"nginx": {"stableIngress": "checkout"}})
    assert _lint(rollout, _ingress(version, "checkout-stable")) == []
    assert _lint(rollout, _ingress(version, "checkout-root")) == [
        'spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: "checkout": '
        "ingress `checkout` has no rules using service checkout-stable backend"]


def test_an_alb_ingress_routes_to_the_root_service_when_there_is_one():
    rollout = _load("example-rollout.yaml")
    rollout["spec"]["strategy"]["canary"].update(canaryService="checkout-canary", stableService="checkout-stable",
                                                 trafficRouting={"alb": {"ingresses": ["checkout"], "servicePort": 80,
                                                                         "rootService": "checkout-root"}})
    assert _lint(rollout, _ingress("networking.k8s.io/v1", "checkout-root")) == []
    problems = _lint(rollout, _ingress("networking.k8s.io/v1", "checkout-stable"))
    assert len(problems) == 1 and problems[0].startswith("spec.strategy.canary.trafficRouting.alb.ingresses:")
