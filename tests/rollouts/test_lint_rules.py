"""Argo's Rollout rules: the shipped examples keep them, and each broken rule is named at its field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from analyzer.rollouts.lint_rules import rollout_problems, selector_matches

TEMPLATES = Path(__file__).parents[2] / "analysis-templates"
EXAMPLE = yaml.safe_load((TEMPLATES / "example-rollout.yaml").read_text())
BASELINE = yaml.safe_load((TEMPLATES / "example-rollout-experiment-baseline.yaml").read_text())


def _canary(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["strategy"]["canary"]


def _nginx(obj: dict[str, Any]) -> dict[str, Any]:
    _canary(obj)["trafficRouting"] = {"nginx": {"stableIngress": "checkout"}}
    return obj


def _blue_green(obj: dict[str, Any]) -> dict[str, Any]:
    obj["spec"]["strategy"] = {"blueGreen": {"activeService": "checkout", "previewService": "checkout"}}
    return obj


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A mutation: set the dotted path (list indexes as numbers) to value."""
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split(".")
        node: Any = obj
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[int(last) if last.isdigit() else last] = value
        return obj
    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split(".")
        node: Any = obj
        for key in parents:
            node = node[key]
        del node[last]
        return obj
    return mutate


STEPS = "spec.strategy.canary.steps"
BROKEN = [
    ("both strategies", _set("spec.strategy.blueGreen", {"activeService": "a"}), "spec.strategy",
     "Multiple Strategies can not be listed"),
    ("no strategy", _set("spec.strategy", {}), "spec.strategy", "missing field '.spec.strategy.canary or"),
    ("no surge, none unavailable", lambda o: (_canary(o).update(maxSurge=0, maxUnavailable="0%"), o)[1],
     "spec.strategy.maxSurge", "MaxSurge and MaxUnavailable both can not be zero"),
    ("weight over 100", _set(f"{STEPS}.0.setWeight", 120), "spec.strategy.steps[0].setWeight",
     "SetWeight needs to be between 0 and 100"),
    ("two kinds in a step", _set(f"{STEPS}.0.pause", {}), "spec.strategy.steps[0]", "Step must have one of"),
    ("an empty step", _set(f"{STEPS}.1", {}), "spec.strategy.steps[1]", "Step must have one of"),
    ("pause of junk", _set(f"{STEPS}.1.pause", {"duration": "2 minutes"}), "spec.strategy.steps[1].pause.duration",
     "Duration needs to be greater than 0"),
    ("negative pause", _set(f"{STEPS}.1.pause", {"duration": "-1m"}), "spec.strategy.steps[1].pause.duration",
     "Duration needs to be greater than 0"),
    ("setCanaryScale without routing", _set(f"{STEPS}.0", {"setCanaryScale": {"replicas": 1}}),
     "spec.strategy.trafficRouting", "SetCanaryScale requires TrafficRouting to be set"),
    ("header route on nginx", lambda o: _set(f"{STEPS}.0", {"setHeaderRoute": {"name": "h"}})(_nginx(o)),
     "spec.strategy.steps[0].setHeaderRoute", "SetHeaderRoute requires TrafficRouting, supports Istio"),
    ("routing without services", _nginx, "spec.strategy.stableService",
     "Canary service and Stable service must to be set to use Traffic Routing"),
    ("one service for both", lambda o: (_canary(o).update(stableService="s", canaryService="s"), o)[1],
     "spec.strategy.stableService", "same service for the stable and canary services"),
    ("scaleDownDelay without routing", lambda o: (_canary(o).update(scaleDownDelaySeconds=30), o)[1],
     "spec.strategy.scaleDownDelaySeconds", "can only be used with traffic routing"),
    ("a metadata path the downward API lacks",
     _set(f"{STEPS}.2.analysis.args.0.valueFrom.fieldRef.fieldPath", "metadata.generation"),
     "spec.strategy.steps[2].analyses", "Analyses arguments must refer to valid object metadata"),
    ("pod labels the selector misses", _set("spec.template.metadata.labels", {"app": "cart"}),
     "spec.template.metadata.labels", "`selector` does not match template `labels`"),
    ("no selector", _delete("spec.selector"), "spec.selector", "Rollout has missing field '.spec.selector'"),
    ("an empty selector", _set("spec.selector", {}), "spec.selector", "empty selector is invalid"),
    ("a workloadRef and a template", _set("spec.workloadRef", {"kind": "Deployment", "name": "checkout"}),
     "spec.template", "template must be empty for workload reference rollout"),
    ("a deadline under minReadySeconds", _set("spec.minReadySeconds", 600), "spec.progressDeadlineSeconds",
     "must be greater than minReadySeconds"),
    ("a pod that may stop", _set("spec.template.spec.restartPolicy", "Never"), "spec.template.spec.restartPolicy",
     'supported values: "Always"'),
    ("blue-green on one service", _blue_green, "spec.strategy.activeService",
     "same service for the active and preview services"),
]


@pytest.mark.parametrize("example", [EXAMPLE, BASELINE], ids=["example", "experiment-baseline"])
def test_the_shipped_examples_keep_every_rule(example):
    assert rollout_problems(example) == []


@pytest.mark.parametrize(("mutate", "path", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_broken_rule_is_named_at_its_field(mutate, path, message):
    problems = rollout_problems(mutate(copy.deepcopy(EXAMPLE)))
    assert any(p.path == path and message in p.message for p in problems), [str(p) for p in problems]


def test_experiment_weights_need_a_router_that_splits_them():
    weighted = copy.deepcopy(BASELINE)
    for template in _canary(weighted)["steps"][0]["experiment"]["templates"]:
        template["weight"] = 10
    path = "spec.strategy.steps[0].experiment.templates[0].weight"
    assert str(rollout_problems(weighted)[0]) == (
        f"{path}: Invalid value: 10: Experiment template weight cannot be set unless TrafficRouting is enabled")
    _canary(weighted).update(trafficRouting={"nginx": {"stableIngress": "i"}}, stableService="s", canaryService="c")
    assert "only available for TrafficRouting with SMI, ALB, Istio" in rollout_problems(weighted)[0].message
    _canary(weighted)["trafficRouting"] = {"smi": {}}
    assert rollout_problems(weighted) == []


def test_a_higher_max_traffic_weight_moves_the_weight_bound():
    nginx = _nginx(copy.deepcopy(EXAMPLE))
    _canary(nginx).update(stableService="s", canaryService="c")
    nginx["spec"]["strategy"]["canary"]["trafficRouting"]["maxTrafficWeight"] = 1000
    _canary(nginx)["steps"][0]["setWeight"] = 200
    assert rollout_problems(nginx) == []
    _canary(nginx)["steps"][0]["setWeight"] = 1200
    assert rollout_problems(nginx)[0].message == "SetWeight needs to be between 0 and 1000"


def test_selectors_match_labels_and_expressions():
    labels = {"app": "checkout", "tier": "web"}
    assert selector_matches({"matchLabels": {"app": "checkout"}}, labels)
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
                                labels)
    assert not selector_matches({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, labels)
