"""Every action sends exactly what the kubectl argo rollouts plugin sends: method, path, type, body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from analyzer.errors import ClusterError, InputError
from analyzer.rollouts import Kube, actions
from tests.rollouts.conftest import ROLLOUTS, reset
from tests.support.argo_objects import OLD_IMAGE, experiment, rollout

MERGE, JSON_PATCH, JSON = "application/merge-patch+json", "application/json-patch+json", "application/json"
R = f"{ROLLOUTS}/checkout"
EXP = experiment()["metadata"]["name"]
TEMPLATES = Path(__file__).parents[2] / "analysis-templates"


def _writes(k8s):
    return [c for c in k8s.calls() if c[0] != "GET"]


def test_promote_clears_controller_pause_on_the_status_subresource(k8s, kube):
    actions.promote(kube, "shop", "checkout")
    assert k8s.calls() == [
        ("GET", R, "", None),
        ("PATCH", f"{R}/status", MERGE, {"status": {"pauseConditions": None}}),
    ]
    assert "pauseConditions" not in k8s.obj("rollouts", "shop", "checkout")["status"]


def test_promote_of_a_user_paused_rollout_also_unpauses_the_spec(k8s, kube):
    k8s.patch(R, {"spec": {"paused": True}})
    actions.promote(kube, "shop", "checkout")
    assert _writes(k8s) == [
        ("PATCH", f"{R}/status", MERGE, {"status": {"pauseConditions": None}}),
        ("PATCH", R, MERGE, {"spec": {"paused": False}}),
    ]


def test_promote_during_a_running_step_skips_to_the_next_step(k8s, kube):
    reset(k8s, pauseConditions=None, controllerPause=False, currentStepIndex=2,
          canary={"currentStepAnalysisRunStatus": {"name": "a", "status": "Running"}})
    actions.promote(kube, "shop", "checkout")
    skip = {"status": {"pauseConditions": None, "currentStepIndex": 3}}
    assert _writes(k8s) == [("PATCH", f"{R}/status", MERGE, skip)]


def test_promote_after_an_inconclusive_step_analysis_lifts_the_controller_pause(k8s, kube):
    reset(k8s, currentStepIndex=2, pauseConditions=[{"reason": "InconclusiveAnalysisRun", "startTime": "x"}],
          canary={"currentStepAnalysisRunStatus": {"name": "a", "status": "Inconclusive"}})
    actions.promote(kube, "shop", "checkout")
    assert _writes(k8s) == [
        ("PATCH", f"{R}/status", MERGE,
         {"status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 3}}),
    ]


def test_promote_falls_back_to_one_unified_patch_without_the_status_subresource(k8s, kube):
    reset(k8s, pauseConditions=None, controllerPause=False, currentStepIndex=2)
    k8s.emulator.status_subresource = False
    actions.promote(kube, "shop", "checkout")
    assert _writes(k8s) == [
        ("PATCH", f"{R}/status", MERGE, {"status": {"pauseConditions": None, "currentStepIndex": 3}}),
        ("PATCH", R, MERGE, {"status": {"pauseConditions": None, "currentStepIndex": 3}}),
    ]
    assert k8s.obj("rollouts", "shop", "checkout")["status"]["currentStepIndex"] == 3


def test_promote_full_only_while_a_canary_exists(k8s, kube):
    actions.promote(kube, "shop", "checkout", full=True)
    assert _writes(k8s) == [("PATCH", f"{R}/status", MERGE, {"status": {"promoteFull": True}})]
    reset(k8s, currentPodHash="5d8f7c9b7")
    actions.promote(kube, "shop", "checkout", full=True)
    assert _writes(k8s) == []


@pytest.mark.parametrize(("action", "flag"), [(actions.abort, True), (actions.retry, False)])
def test_abort_and_retry_patch_status_then_fall_back(k8s, kube, action, flag):
    action(kube, "shop", "checkout")
    assert _writes(k8s) == [("PATCH", f"{R}/status", MERGE, {"status": {"abort": flag}})]
    k8s.forget_calls()
    k8s.emulator.status_subresource = False
    action(kube, "shop", "checkout")
    assert _writes(k8s) == [
        ("PATCH", f"{R}/status", MERGE, {"status": {"abort": flag}}),
        ("PATCH", R, MERGE, {"status": {"abort": flag}}),
    ]


def test_pause_resume_restart_and_terminate(k8s, kube):
    actions.pause(kube, "shop", "checkout")
    actions.resume(kube, "shop", "checkout")
    now = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    sent = actions.restart(kube, "shop", "checkout", timedelta(seconds=10), now=now)
    actions.terminate_analysis_run(kube, "shop", "checkout-run-1")
    assert sent == "2026-11-22T06:00:10Z"
    assert _writes(k8s) == [
        ("PATCH", R, MERGE, {"spec": {"paused": True}}),
        ("PATCH", R, MERGE, {"spec": {"paused": False}}),
        ("PATCH", R, MERGE, {"spec": {"restartAt": "2026-11-22T06:00:10Z"}}),
        ("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns/checkout-run-1", MERGE,
         {"spec": {"terminate": True}}),
    ]


def test_undo_sends_the_previous_revisions_template_as_a_json_patch(k8s, kube):
    assert actions.undo(kube, "shop", "checkout") == 2
    (method, path, content_type, body), = _writes(k8s)
    assert (method, path, content_type) == ("PATCH", R, JSON_PATCH)
    assert body[0]["op"] == "replace" and body[0]["path"] == "/spec/template"
    template = body[0]["value"]
    assert template["spec"]["containers"][0]["image"] == OLD_IMAGE
    assert "rollouts-pod-template-hash" not in template["metadata"]["labels"]
    assert template["metadata"]["labels"] == {"app": "checkout"}
    gets = [c[1] for c in k8s.calls() if c[0] == "GET"]
    assert gets == [R, "/apis/apps/v1/namespaces/shop/replicasets"]
    with pytest.raises(ClusterError, match=r"no revision 7 \(known: 2, 3\)"):
        actions.undo(kube, "shop", "checkout", to_revision=7)


def test_set_image_is_a_full_update_retried_on_conflict(k8s, kube):
    k8s.emulator.conflicts = 1
    actions.set_image(kube, "shop", "checkout", "checkout", "registry.example.com/shop/checkout:v4")
    methods = [(c[0], c[1], c[2]) for c in k8s.calls()]
    assert methods == [("GET", R, ""), ("PUT", R, JSON), ("GET", R, ""), ("PUT", R, JSON)]
    put = k8s.calls()[-1][3]
    assert put["kind"] == "Rollout" and put["metadata"]["resourceVersion"]
    assert put["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/shop/checkout:v4"
    assert k8s.obj("rollouts", "shop", "checkout")["status"]["stableRS"] == "5d8f7c9b7"  # the rest is kept
    with pytest.raises(ClusterError, match="no container named 'sidecar'"):
        actions.set_image(kube, "shop", "checkout", "sidecar", "x:1")


def test_errors_name_the_object_and_the_cause(k8s, kube, tmp_path):
    with pytest.raises(ClusterError, match="rollouts shop/nope not found"):
        actions.abort(kube, "shop", "nope")
    k8s.emulator.forbidden = {"PATCH"}
    with pytest.raises(ClusterError, match=r"forbidden: these credentials may not patch rollouts shop/checkout/status"):
        actions.abort(kube, "shop", "checkout")
    with pytest.raises(ClusterError, match="kubeconfig"):
        Kube(kubeconfig=str(tmp_path / "missing"))
    gone = tmp_path / "gone"
    gone.write_text(k8s.kubeconfig.read_text().replace(k8s.url, "http://127.0.0.1:9"))
    with pytest.raises(ClusterError, match="cannot reach the Kubernetes API"):
        actions.abort(Kube(kubeconfig=str(gone)), "shop", "checkout")


def test_terminate_an_experiment(k8s, kube):
    k8s.put("/apis/argoproj.io/v1alpha1/namespaces/shop/experiments", experiment())
    actions.terminate_experiment(kube, "shop", experiment()["metadata"]["name"])
    assert _writes(k8s) == [("PATCH", f"/apis/argoproj.io/v1alpha1/namespaces/shop/experiments/{EXP}", MERGE,
                             {"spec": {"terminate": True}})]
    assert k8s.obj("experiments", "shop", EXP)["spec"]["terminate"] is True
    with pytest.raises(ClusterError, match="experiments shop/nope not found"):
        actions.terminate_experiment(kube, "shop", "nope")


def test_create_posts_each_kind_to_its_collection(k8s, kube):
    """The object's own namespace wins over the command's, as in the plugin; a ClusterAnalysisTemplate has none."""
    templates = {p.name: yaml.safe_load(p.read_text()) for p in TEMPLATES.glob("*analysis-template.yaml")}
    cluster_template = templates["cluster-analysis-template.yaml"]
    template = templates["analysis-template.yaml"]
    example = yaml.safe_load((TEMPLATES / "example-rollout.yaml").read_text())
    example["metadata"]["name"] = "payments"
    run = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "one-off"},
           "spec": {"metrics": [{"name": "canary-judge", "provider": {"web": {"url": "http://x"}}}]}}
    assert "namespace" not in template["metadata"] and example["metadata"]["namespace"] == "shop"
    stored = [actions.create(kube, "default", obj) for obj in (cluster_template, template, example, run)]
    argo = "/apis/argoproj.io/v1alpha1"
    assert k8s.calls() == [
        ("POST", f"{argo}/clusteranalysistemplates", JSON, cluster_template),
        ("POST", f"{argo}/namespaces/default/analysistemplates", JSON, template),  # it names no namespace
        ("POST", f"{argo}/namespaces/shop/rollouts", JSON, example),
        ("POST", f"{argo}/namespaces/default/analysisruns", JSON, run),
    ]
    assert [s["metadata"]["name"] for s in stored] == ["canary-analyzer", template["metadata"]["name"], "payments",
                                                       "one-off"]
    assert k8s.obj("rollouts", "shop", "payments")["spec"]["replicas"] == 5


def test_create_refuses_what_it_cannot_send_and_names_an_existing_object(k8s, kube):
    with pytest.raises(ClusterError, match=r"creates of v1/Service are not supported"):
        actions.create(kube, "shop", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}})
    assert k8s.calls() == []
    with pytest.raises(ClusterError, match="rollouts shop/checkout already exists"):
        actions.create(kube, "shop", rollout())


def test_retry_an_experiment_clears_its_status(k8s, kube):
    k8s.put("/apis/argoproj.io/v1alpha1/namespaces/shop/experiments", experiment(phase="Failed"))
    actions.retry_experiment(kube, "shop", EXP)
    assert _writes(k8s) == [("PATCH", f"/apis/argoproj.io/v1alpha1/namespaces/shop/experiments/{EXP}", MERGE,
                             {"status": None})]


def _template() -> dict:
    return yaml.safe_load((TEMPLATES / "cluster-analysis-template.yaml").read_text())


def test_an_analysis_run_of_a_template_gets_the_given_arguments():
    given = {"namespace": "shop", "rollout": "checkout", "canary-hash": "6b9c4d4f8", "stable-hash": "5d8f7c9b7"}
    run = actions.analysis_run_from(_template(), given, "shop", instance_id="blue")
    assert run["kind"] == "AnalysisRun" and run["metadata"]["generateName"] == "canary-analyzer-"
    assert run["metadata"]["namespace"] == "shop" and "name" not in run["metadata"]
    assert run["metadata"]["labels"]["argo-rollouts.argoproj.io/controller-instance-id"] == "blue"
    args = {a["name"]: a for a in run["spec"]["args"]}
    assert {k: args[k]["value"] for k in given} == given
    assert args["profile"]["value"] == "http" and "valueFrom" in args["api-token"]  # the template's own kept
    assert run["spec"]["metrics"] == _template()["spec"]["metrics"]
    assert actions.analysis_run_from(_template(), given, "shop", name="one-off")["metadata"]["name"] == "one-off"


def test_an_analysis_run_needs_every_declared_argument_and_no_other():
    with pytest.raises(InputError, match=r"args.namespace was not resolved: give it with -a namespace=VALUE"):
        actions.analysis_run_from(_template(), {}, "shop")
    with pytest.raises(InputError, match="declares no argument canary"):
        actions.analysis_run_from(_template(), {"canary": "x"}, "shop")


def test_create_analysisrun_reads_a_cluster_template_then_posts_the_run(k8s, kube):
    k8s.put("/apis/argoproj.io/v1alpha1/clusteranalysistemplates", _template())
    source = actions.analysis_template(kube, "shop", "canary-analyzer", cluster=True)
    stored = actions.create(kube, "shop", actions.analysis_run_from(source, dict.fromkeys(
        ("namespace", "rollout", "canary-hash", "stable-hash"), "x"), "shop"))
    assert [c[:2] for c in k8s.calls()] == [
        ("GET", "/apis/argoproj.io/v1alpha1/clusteranalysistemplates/canary-analyzer"),
        ("POST", "/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns"),
    ]
    assert stored["metadata"]["name"] == "canary-analyzer-00001"  # the API completed the generateName
