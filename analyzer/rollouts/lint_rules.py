"""The semantic rules Argo Rollouts applies to a Rollout's spec, beyond what its CRD schema can say.

The controller (and `kubectl argo rollouts lint`) refuse a Rollout that breaks these rules, though the
API server accepts it: only one strategy, a selector that matches the pod template, a canary step that
is exactly one thing, weights within range, traffic routing where a step needs it (``setCanaryScale``,
``setHeaderRoute``, ``setMirrorRoute``, experiment weights), the services traffic routing needs, analysis
arguments that name metadata the downward API has. The rules and their messages follow Argo Rollouts'
``pkg/apis/rollouts/validation`` (written anew from its behaviour, not translated); each
:class:`Problem` carries the field path the plugin prints. The pod template itself is checked only as
far as a ReplicaSet needs (containers, restart policy, labels); the API server checks the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from analyzer.rollouts.durations import go_duration_seconds

#: Argo's defaults when the field is absent (utils/defaults).
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_MAX_SURGE = DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_MAX_WEIGHT = 100
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
#: Step kinds of which a step may carry exactly one (Argo checks these four against each other).
EXCLUSIVE_STEP_KINDS = ("setWeight", "pause", "experiment", "analysis")
STEP_KINDS = (*EXCLUSIVE_STEP_KINDS, "setCanaryScale", "setHeaderRoute", "setMirrorRoute", "plugin")
STEP_MESSAGE = "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause"
#: Object metadata an analysis argument may read with valueFrom.fieldRef (what the downward API supports).
FIELD_PATHS = re.compile(r"metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]")
NO_VALUE = object()


@dataclass(frozen=True)
class Problem:
    """One broken rule: the field (``spec.strategy.canary.steps[2].setWeight``), what is wrong, the value."""

    path: str
    message: str
    value: Any = field(default=NO_VALUE, compare=False)

    def __str__(self) -> str:
        if self.value is NO_VALUE:
            return f"{self.path}: {self.message}"
        return f"{self.path}: Invalid value: {json.dumps(self.value, default=str)}: {self.message}"


def required(path: str, message: str) -> Problem:
    """A field that must be there (the plugin's "Required value")."""
    return Problem(path, f"Required value: {message}")


def _int_or_percent(value: Any) -> int:
    """maxSurge / maxUnavailable as Argo compares them with zero: '25%' -> 25, 1 -> 1, junk -> 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    digits = text[:-1] if text.endswith("%") else text
    return int(digits) if digits.isdigit() else 0


def _spec_rules(spec: dict[str, Any]) -> Iterator[Problem]:
    if (spec.get("replicas") or 0) < 0:
        yield Problem("spec.replicas", "must be greater than or equal to 0", spec["replicas"])
    workload_ref = spec.get("workloadRef")
    template = spec.get("template") or {}
    if workload_ref is None:
        selector = spec.get("selector")
        if selector is None:
            yield required("spec.selector", "Rollout has missing field '.spec.selector'")
        elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
            yield Problem("spec.selector", "empty selector is invalid for deployment", selector)
        else:
            yield from _template_rules(selector, template)
    elif template:
        yield Problem("spec.template", "template must be empty for workload reference rollout", "<template>")
    for name, default in (("minReadySeconds", 0), ("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT),
                          ("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)):
        if spec.get(name, default) < 0:
            yield Problem(f"spec.{name}", "must be greater than or equal to 0", spec[name])
    deadline = spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)
    if deadline <= spec.get("minReadySeconds", 0):
        yield Problem("spec.progressDeadlineSeconds", "must be greater than minReadySeconds", deadline)


def _template_rules(selector: dict[str, Any], template: dict[str, Any]) -> Iterator[Problem]:
    """What a ReplicaSet needs of the pod template: labels the selector matches, containers, restart Always."""
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector_matches(selector, labels):
        yield Problem("spec.template.metadata.labels", "`selector` does not match template `labels`", labels)
    pod = template.get("spec") or {}
    if not pod.get("containers"):
        yield required("spec.template.spec.containers", "a pod template needs at least one container")
    restart = pod.get("restartPolicy", "Always")
    if restart != "Always":
        yield Problem("spec.template.spec.restartPolicy", 'supported values: "Always"', restart)


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) applied to a label set."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if (operator == "Exists" and not present) or (operator == "DoesNotExist" and present):
            return False
    return True


def _anti_affinity(anti: dict[str, Any] | None, path: str) -> Iterator[Problem]:
    if anti is None:
        return
    preferred = anti.get("preferredDuringSchedulingIgnoredDuringExecution")
    required = anti.get("requiredDuringSchedulingIgnoredDuringExecution")
    if (preferred is None) == (required is None):
        yield Problem(path, "AntiAffinity must have exactly one strategy listed", sorted(anti))
    if preferred is not None and not 1 <= preferred.get("weight", 0) <= 100:
        yield Problem(f"{path}.weight", "AntiAffinity weight must be between 1-100", preferred.get("weight"))


def _blue_green_rules(spec: dict[str, Any], blue_green: dict[str, Any]) -> Iterator[Problem]:
    path = "spec.strategy"
    if blue_green.get("activeService") == blue_green.get("previewService"):
        yield Problem(f"{path}.activeService", "This rollout uses the same service for the active and preview "
                      "services, but two different services are required.", blue_green.get("activeService"))
    limit = blue_green.get("scaleDownDelayRevisionLimit")
    if limit is not None and spec.get("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT) < limit:
        yield Problem(f"{path}.scaleDownDelayRevisionLimit",
                      "This rollout's revision history limit can not be smaller than the rollout's scale down limit",
                      limit)
    yield from _anti_affinity(blue_green.get("antiAffinity"), f"{path}.antiAffinity")


def needs_services(canary: dict[str, Any]) -> bool:
    """Traffic routing that splits by Service: stableService and canaryService must both be set."""
    routing = canary.get("trafficRouting")
    if routing is None:
        return False
    ping_pong = canary.get("pingPong") is not None
    istio = routing.get("istio")
    return bool(
        (routing.get("alb") is not None and not ping_pong)
        or (istio is not None and istio.get("destinationRule") is None and not ping_pong)
        or any(routing.get(k) is not None for k in ("smi", "apisix", "ambassador", "nginx", "appMesh", "traefik"))
    )


def _canary_rules(canary: dict[str, Any]) -> Iterator[Problem]:
    path = "spec.strategy"
    routing = canary.get("trafficRouting")
    surge = _int_or_percent(canary.get("maxSurge", DEFAULT_MAX_SURGE))
    unavailable = _int_or_percent(canary.get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE))
    if surge == 0 and unavailable == 0:
        yield Problem(f"{path}.maxSurge", "MaxSurge and MaxUnavailable both can not be zero", canary.get("maxSurge"))
    stable, canary_service = canary.get("stableService", ""), canary.get("canaryService", "")
    if stable and stable == canary_service:
        yield Problem(f"{path}.stableService", "This rollout uses the same service for the stable and canary "
                      "services, but two different services are required.", stable)
    yield from _ping_pong_rules(canary, routing, path)
    if needs_services(canary):
        for name, value in (("stableService", stable), ("canaryService", canary_service)):
            if not value:
                yield Problem(f"{path}.{name}", "Canary service and Stable service must to be set to use Traffic "
                              "Routing", value)
    if routing is None:
        if canary.get("scaleDownDelaySeconds") is not None:
            yield Problem(f"{path}.scaleDownDelaySeconds", "Canary scaleDownDelaySeconds can only be used with "
                          "traffic routing", canary["scaleDownDelaySeconds"])
        if canary.get("dynamicStableScale"):
            yield Problem(f"{path}.dynamicStableScale", "Canary dynamicStableScale can only be used with traffic "
                          "routing", True)
    else:
        if canary.get("scaleDownDelaySeconds") is not None and canary.get("dynamicStableScale"):
            yield Problem(f"{path}.dynamicStableScale", "Canary dynamicStableScale cannot be used with "
                          "scaleDownDelaySeconds", True)
        if routing.get("maxTrafficWeight") is not None and routing.get("nginx") is None and not routing.get("plugins"):
            yield Problem(f"{path}.trafficRouting.maxTrafficWeight", "Canary maxTrafficWeight in traffic routing "
                          "only supported in Nginx and Plugins", routing["maxTrafficWeight"])
    max_weight = (routing or {}).get("maxTrafficWeight") or DEFAULT_MAX_WEIGHT
    for index, step in enumerate(canary.get("steps") or []):
        yield from _step_rules(routing, step or {}, f"{path}.steps[{index}]", max_weight)
    yield from _anti_affinity(canary.get("antiAffinity"), f"{path}.antiAffinity")


def _ping_pong_rules(canary: dict[str, Any], routing: dict[str, Any] | None, path: str) -> Iterator[Problem]:
    ping_pong = canary.get("pingPong")
    if ping_pong is None:
        return
    if routing is not None and routing.get("alb") is None and routing.get("istio") is None \
            and not routing.get("plugins"):
        yield Problem(f"{path}.trafficRouting.alb", "Ping-pong feature works with the ALB, Istio, and plugin-based "
                      "traffic routers only", None)
    ping, pong = ping_pong.get("pingService", ""), ping_pong.get("pongService", "")
    for name, value in (("pingService", ping), ("pongService", pong)):
        if not value:
            yield Problem(f"{path}.pingPong.{name}", "Ping service and Pong service must to be set to use "
                          "Ping-Pong feature", value)
    if ping == pong:
        yield Problem(f"{path}.pingPong.pingService", "This rollout uses the same service for the ping and pong "
                      "services, but two different services are required.", ping)
    if routing is not None and routing.get("alb") is not None and not routing["alb"].get("rootService"):
        yield Problem(f"{path}.trafficRouting.alb.rootService", "Root service field is required for the "
                      "configuration with ALB and ping-pong feature enabled", "")


def _step_rules(routing: dict[str, Any] | None, step: dict[str, Any], path: str, max_weight: int) -> Iterator[Problem]:
    kinds = [k for k in EXCLUSIVE_STEP_KINDS if step.get(k) is not None]
    if len(kinds) > 1:
        yield Problem(path, STEP_MESSAGE, kinds)
    if not any(step.get(k) is not None for k in STEP_KINDS):
        yield Problem(path, STEP_MESSAGE, sorted(step))
    weight = step.get("setWeight")
    if weight is not None and not 0 <= weight <= max_weight:
        yield Problem(f"{path}.setWeight", f"SetWeight needs to be between 0 and {max_weight}", weight)
    pause = step.get("pause")
    if pause is not None and "duration" in pause:
        seconds = go_duration_seconds(pause["duration"])
        if seconds is None or seconds < 0:
            yield Problem(f"{path}.pause.duration", "Duration needs to be greater than 0", pause["duration"])
    if step.get("setCanaryScale") is not None and routing is None:
        yield required("spec.strategy.trafficRouting", "SetCanaryScale requires TrafficRouting to be set")
    yield from _route_rules(routing, step, path)
    yield from _experiment_rules(routing, step.get("experiment"), f"{path}.experiment")
    args = [arg for analysis in ((step.get("experiment") or {}).get("analyses") or []) for arg in
            analysis.get("args") or []] + list((step.get("analysis") or {}).get("args") or [])
    for arg in args:
        field_path = ((arg.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath", "")
        if field_path.startswith("metadata") and not FIELD_PATHS.fullmatch(field_path):
            yield Problem(f"{path}.analyses", "Analyses arguments must refer to valid object metadata supported by "
                          "downwardAPI", field_path)


def _route_rules(routing: dict[str, Any] | None, step: dict[str, Any], path: str) -> Iterator[Problem]:
    header, mirror = step.get("setHeaderRoute"), step.get("setMirrorRoute")
    routing_ = routing or {}
    if header is not None:
        if not any(routing_.get(k) is not None for k in ("istio", "alb", "apisix")) and not routing_.get("plugins"):
            yield Problem(f"{path}.setHeaderRoute", "SetHeaderRoute requires TrafficRouting, supports Istio and ALB "
                          "and Apisix", header)
        else:
            for j, match in enumerate(header.get("match") or []):
                yield from _string_match(match.get("headerValue"), f"{path}.setHeaderRoute.match[{j}]",
                                         alb=routing_.get("alb") is not None)
    if mirror is not None:
        if routing_.get("istio") is None and not routing_.get("plugins"):
            yield Problem(f"{path}.setMirrorRoute", "SetMirrorRoute requires TrafficRouting, supports Istio and "
                          "Plugins", mirror)
        for j, match in enumerate(mirror.get("match") or []):
            for key in ("method", "path"):
                if key in match:
                    yield from _string_match(match[key], f"{path}.setMirrorRoute.match[{j}]", alb=False)
    if routing is not None and (header is not None or mirror is not None):
        managed = routing.get("managedRoutes")
        if managed is None:
            yield required("spec.strategy.trafficRouting.managedRoutes",
                          "Rollout has missing field 'spec.strategy.canary.trafficRouting.managedRoutes'")
        else:
            names = {route.get("name") for route in managed}
            for key, route in (("setHeaderRoute", header), ("setMirrorRoute", mirror)):
                if route is not None and route.get("name") not in names:
                    yield Problem(f"{path}.{key}", "Steps define a route that does not exist in "
                                  "spec.strategy.canary.trafficRouting.managedRoutes", route.get("name"))


def _string_match(match: dict[str, Any] | None, path: str, alb: bool) -> Iterator[Problem]:
    if match is None:
        yield Problem(path, "StringMatch value missed, match value must have one of the following: exact, regex, "
                      "prefix", None)
        return
    if alb:
        if not match.get("exact") or match.get("regex") or match.get("prefix"):
            yield Problem(path, "SetHeaderRoute match value invalid. ALB supports 'exact' value only", match)
        return
    count = sum(1 for key in ("exact", "regex", "prefix") if match.get(key))
    if count > 1:
        yield Problem(path, "StringMatch match value must have exactly one of the following: exact, regex, prefix",
                      match)
    if count == 0:
        yield Problem(path, "StringMatch value missed, match value must have one of the following: exact, regex, "
                      "prefix", match)


def _experiment_rules(routing: dict[str, Any] | None, experiment: dict[str, Any] | None,
                      path: str) -> Iterator[Problem]:
    for index, template in enumerate((experiment or {}).get("templates") or []):
        weight = template.get("weight")
        if weight is None:
            continue
        where = f"{path}.templates[{index}].weight"
        if routing is None:
            yield Problem(where, "Experiment template weight cannot be set unless TrafficRouting is enabled", weight)
        elif not any(routing.get(k) is not None for k in ("alb", "smi", "istio")) and not routing.get("plugins"):
            yield Problem(where, "Experiment template weight is only available for TrafficRouting with SMI, ALB, "
                          "Istio and Plugins at this time", weight)


def rollout_problems(rollout: dict[str, Any]) -> list[Problem]:
    """Every rule the Rollout breaks, in the order of its fields (empty: Argo accepts its spec)."""
    spec = rollout.get("spec") or {}
    problems = list(_spec_rules(spec))
    strategy = spec.get("strategy") or {}
    canary, blue_green = strategy.get("canary"), strategy.get("blueGreen")
    if canary is None and blue_green is None:
        problems.append(required("spec.strategy", "Rollout has missing field '.spec.strategy.canary or "
                                ".spec.strategy.blueGreen'"))
    elif canary is not None and blue_green is not None:
        problems.append(Problem("spec.strategy", "Multiple Strategies can not be listed", sorted(strategy)))
    elif blue_green is not None:
        problems.extend(_blue_green_rules(spec, blue_green))
    else:
        problems.extend(_canary_rules(canary or {}))
    return problems
