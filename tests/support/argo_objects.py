"""Rollout, ReplicaSet and AnalysisRun objects shaped like the ones Argo Rollouts' controller writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).parents[2] / "analysis-templates" / "example-rollout.yaml"
STABLE, CANARY = "5d8f7c9b7", "6b9c4d4f8"
OLD_IMAGE = "registry.example.com/shop/checkout@sha256:" + "1" * 64
NEW_IMAGE = "registry.example.com/shop/checkout@sha256:" + "2" * 64


def rollout(namespace: str = "shop", name: str = "checkout", **status: Any) -> dict[str, Any]:
    """The example Rollout at step 1 (the 2-minute pause) of revision 3: canary up at 20 %."""
    obj = yaml.safe_load(EXAMPLE.read_text())
    obj["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": "0e6c1f0a-7d1b-4b8e-9a53-4d2f4c7e6b10",
        "generation": 3,
        "resourceVersion": "1000",
        "annotations": {"rollout.argoproj.io/revision": "3"},
    }
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE
    obj["status"] = {
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "observedGeneration": "3",
        "currentPodHash": CANARY,
        "stableRS": STABLE,
        "currentStepIndex": 1,
        "currentStepHash": "7c9d5b6f8",
        "controllerPause": True,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-11-22T05:00:00Z"}],
        "canary": {
            "currentBackgroundAnalysisRunStatus": {"name": f"{name}-{CANARY}-3", "status": "Running"},
            "weights": None,
        },
        "replicas": 6,
        "updatedReplicas": 1,
        "readyReplicas": 6,
        "availableReplicas": 6,
        "selector": f"app={name}",
        "conditions": [{"type": "Progressing", "status": "True", "reason": "RolloutPaused"}],
    }
    obj["status"].update(status)
    return obj


def replica_set(rollout_obj: dict[str, Any], pod_hash: str, revision: int, image: str) -> dict[str, Any]:
    meta = rollout_obj["metadata"]
    template = copy.deepcopy(rollout_obj["spec"]["template"])
    template["metadata"]["labels"]["rollouts-pod-template-hash"] = pod_hash
    template["spec"]["containers"][0]["image"] = image
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": {**rollout_obj["spec"]["selector"]["matchLabels"], "rollouts-pod-template-hash": pod_hash},
            "annotations": {"rollout.argoproj.io/revision": str(revision)},
            "ownerReferences": [
                {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": meta["name"], "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}
            ],
        },
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {**rollout_obj["spec"]["selector"]["matchLabels"],
                                         "rollouts-pod-template-hash": pod_hash}},
            "template": template,
        },
    }


def analysis_run(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"metrics": [{"name": "canary-judge", "provider": {"web": {"url": "http://x"}}}]},
        "status": {"phase": "Running"},
    }


BASELINE_EXAMPLE = EXAMPLE.parent / "example-rollout-experiment-baseline.yaml"
BASELINE, CANDIDATE = "7f6d5c4b3", "8a7b6c5d4"  # the Experiment's own pod-template hashes


def experiment(namespace: str = "shop", name: str = f"checkout-{CANARY}-3-0", **status: Any) -> dict[str, Any]:
    """The Experiment the baseline example's first step starts, as the controller writes it: both
    templates available since 05:00:30 of a 30-minute run, the canary-judge analysis running."""
    step = yaml.safe_load(BASELINE_EXAMPLE.read_text())["spec"]["strategy"]["canary"]["steps"][0]["experiment"]
    template = yaml.safe_load(BASELINE_EXAMPLE.read_text())["spec"]["template"]
    images = {"baseline": OLD_IMAGE, "canary": NEW_IMAGE}
    templates = []
    for t in step["templates"]:
        pod = copy.deepcopy(template)
        pod["spec"]["containers"][0]["image"] = images[t["name"]]
        templates.append({"name": t["name"], "replicas": t["replicas"], "selector": {"matchLabels": {
            "app": "checkout"}}, "template": pod})
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {
            "name": name, "namespace": namespace, "creationTimestamp": "2026-11-22T05:00:00Z",
            "uid": "5b1e7c2a-9f3d-4e8a-b6c1-2d7f0e9a8c34",
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "checkout",
                                 "uid": "0e6c1f0a-7d1b-4b8e-9a53-4d2f4c7e6b10", "controller": True}],
        },
        "spec": {"duration": step["duration"], "templates": templates,
                 "analyses": copy.deepcopy(step["analyses"])},
        "status": {
            "phase": "Running",
            "availableAt": "2026-11-22T05:00:30Z",
            "templateStatuses": [
                {"name": "baseline", "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                 "status": "Running", "podTemplateHash": BASELINE},
                {"name": "canary", "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2,
                 "status": "Running", "podTemplateHash": CANDIDATE},
            ],
            "analysisRuns": [{"name": "canary-judge", "analysisRun": f"{name}-canary-judge", "phase": "Running"}],
        },
    }
    obj["status"].update(status)
    return obj
