"""Actions on Rollouts, sending what the `kubectl argo rollouts` plugin sends.

Same object, subresource, patch type and body (research-argo-rollouts.md §4):

=================  ================================================================  ==========================
action             body                                                              where
=================  ================================================================  ==========================
promote            ``{"status":{"pauseConditions":null}}`` when paused by the        status (fallback: one
                   controller; ``…,"controllerPause":false,"currentStepIndex":i+1``  unified patch on the
                   when that pause is an Inconclusive step analysis;                 main resource on 404),
                   ``{"status":{"pauseConditions":null,"currentStepIndex":i+1}}``    then ``{"spec":{"paused":
                   on a running canary step (skips it)                               false}}`` if user-paused
promote --full     ``{"status":{"promoteFull":true}}`` if canary ≠ stable            status, fallback unified
abort / retry      ``{"status":{"abort":true|false}}``                               status, fallback main
pause / resume     ``{"spec":{"paused":true|false}}``                                main
restart            ``{"spec":{"restartAt":"<RFC 3339 UTC>"}}``                       main
undo               JSON patch replace ``/spec/template`` with the revision's         main
                   ReplicaSet template minus ``rollouts-pod-template-hash``
set image          GET, edit ``image`` of the named (``*``: every) container, PUT    main; 409 → re-read, retry
terminate          ``{"spec":{"terminate":true}}`` on an AnalysisRun or Experiment   main
retry experiment   ``{"status":null}`` on the Experiment                              main
create             POST the object to its collection (namespace: the object's, else  collection
                   the command's; ClusterAnalysisTemplates cluster-wide)
create analysisrun GET the (Cluster)AnalysisTemplate unless it comes from a file;     analysisruns
                   POST the AnalysisRun :func:`analysis_run_from` makes of it
=================  ================================================================  ==========================

Merge patches are ``application/merge-patch+json``. ``resume`` is not a plugin command: it is the
reverse of ``pause`` (a user pause); controller pauses are lifted by ``promote``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from analyzer.errors import ClusterError, InputError
from analyzer.rollouts.client import ANALYSIS_RUNS, EXPERIMENTS, GROUP, KINDS, VERSION, Conflict, Kube, NotFound

REVISION = "rollout.argoproj.io/revision"
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
SET_IMAGE_ATTEMPTS = 5
INSTANCE_ID = "argo-rollouts.argoproj.io/controller-instance-id"  # which controller (of several) runs it


def _status_first(kube: Kube, namespace: str, name: str, status: dict[str, Any], unified: dict[str, Any]) -> bool:
    """Patch the status subresource; on 404 (an old CRD without it) send ``unified`` to the main resource.

    Returns True when the fallback was used (it carries the spec part too).
    """
    try:
        kube.merge_patch(namespace, name, {"status": status}, status=True)
    except NotFound:
        kube.merge_patch(namespace, name, unified)
        return True
    return False


def _canary_index(obj: dict[str, Any]) -> int | None:
    canary = obj.get("spec", {}).get("strategy", {}).get("canary")
    if canary is None or not canary.get("steps"):
        return None
    index = obj.get("status", {}).get("currentStepIndex")
    return min(int(index or 0) + 1, len(canary["steps"]))  # the next step, capped at the end


def _inconclusive_step(obj: dict[str, Any]) -> bool:
    run = (obj.get("status", {}).get("canary") or {}).get("currentStepAnalysisRunStatus") or {}
    return run.get("status") == "Inconclusive"


def promote(kube: Kube, namespace: str, name: str, full: bool = False) -> None:
    obj = kube.get(namespace, name)
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    unpause = {"paused": False}
    if full:
        if status.get("currentPodHash") != status.get("stableRS"):
            full_patch = {"promoteFull": True}
            unified = {"spec": unpause, "status": full_patch} if spec.get("paused") else {"status": full_patch}
            if _status_first(kube, namespace, name, full_patch, unified):
                return
        if spec.get("paused"):
            kube.merge_patch(namespace, name, {"spec": unpause})
        return
    index = _canary_index(obj)
    patch: dict[str, Any] | None = None
    paused_by_controller = bool(status.get("pauseConditions"))
    if paused_by_controller and status.get("controllerPause") and _inconclusive_step(obj) and index is not None:
        patch = {"pauseConditions": None, "controllerPause": False, "currentStepIndex": index}
    elif paused_by_controller:
        patch = {"pauseConditions": None}
    elif index is not None:
        patch = {"pauseConditions": None, "currentStepIndex": index}
    if patch is not None:
        unified = {"spec": unpause, "status": patch} if spec.get("paused") else {"status": patch}
        if _status_first(kube, namespace, name, patch, unified):
            return
    if spec.get("paused"):
        kube.merge_patch(namespace, name, {"spec": unpause})


def abort(kube: Kube, namespace: str, name: str) -> None:
    _status_first(kube, namespace, name, {"abort": True}, {"status": {"abort": True}})


def retry(kube: Kube, namespace: str, name: str) -> None:
    _status_first(kube, namespace, name, {"abort": False}, {"status": {"abort": False}})


def pause(kube: Kube, namespace: str, name: str) -> None:
    kube.merge_patch(namespace, name, {"spec": {"paused": True}})


def resume(kube: Kube, namespace: str, name: str) -> None:
    kube.merge_patch(namespace, name, {"spec": {"paused": False}})


def restart(kube: Kube, namespace: str, name: str, after: timedelta = timedelta(0), now: datetime | None = None) -> str:
    """Ask the controller to restart the pods at now + ``after``; returns the RFC 3339 time sent."""
    at = ((now or datetime.now(UTC)) + after).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube.merge_patch(namespace, name, {"spec": {"restartAt": at}})
    return at


def terminate_analysis_run(kube: Kube, namespace: str, name: str) -> None:
    kube.merge_patch(namespace, name, {"spec": {"terminate": True}}, plural=ANALYSIS_RUNS)


def terminate_experiment(kube: Kube, namespace: str, name: str) -> None:
    kube.merge_patch(namespace, name, {"spec": {"terminate": True}}, plural=EXPERIMENTS)


def retry_experiment(kube: Kube, namespace: str, name: str) -> None:
    """Clear a failed Experiment's status (``{"status":null}``): the controller starts it over."""
    kube.merge_patch(namespace, name, {"status": None}, plural=EXPERIMENTS)


def create(kube: Kube, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Create an Argo object as the plugin does: in its own ``metadata.namespace`` if it names one, else in
    ``namespace``; a ClusterAnalysisTemplate in none. Returns the object the API stored."""
    if obj.get("kind") not in KINDS:
        raise ClusterError(f"creates of {obj.get('apiVersion')}/{obj.get('kind')} are not supported "
                           f"(only {', '.join(KINDS)})")
    _, namespaced = KINDS[obj["kind"]]
    target = (obj.get("metadata") or {}).get("namespace") or namespace
    return kube.create(obj, target if namespaced else "")


def analysis_template(kube: Kube, namespace: str, name: str, cluster: bool) -> dict[str, Any]:
    """An AnalysisTemplate of the namespace, or (``cluster``) a ClusterAnalysisTemplate, from the cluster."""
    if cluster:
        return kube.get_cluster(name, "clusteranalysistemplates")
    return kube.get(namespace, name, plural="analysistemplates")


def analysis_run_from(template: dict[str, Any], args: dict[str, str], namespace: str, name: str | None = None,
                      generate_name: str | None = None, instance_id: str | None = None) -> dict[str, Any]:
    """The AnalysisRun the plugin's `create analysisrun` makes of a template: its spec, the given ``args``
    as values of the arguments it declares (every declared one must then have a value), named ``name`` or
    ``generate_name`` (default: the template's name and a dash), its labels and annotations kept."""
    spec = copy.deepcopy(template.get("spec") or {})
    meta = template.get("metadata") or {}
    declared = spec.get("args")
    if declared is not None:
        known = {arg.get("name") for arg in declared}
        unknown = sorted(set(args) - known)
        if unknown:
            raise InputError(f"{template.get('kind')} {meta.get('name')} declares no argument {', '.join(unknown)} "
                             f"(it has: {', '.join(sorted(map(str, known))) or 'none'})")
        for arg in declared:
            if arg.get("name") in args:
                arg.pop("valueFrom", None)
                arg["value"] = args[arg["name"]]
        missing = [str(arg.get("name")) for arg in declared if "value" not in arg and "valueFrom" not in arg]
        if missing:
            raise InputError(f"args.{missing[0]} was not resolved: give it with -a {missing[0]}=VALUE")
    elif args:
        spec["args"] = [{"name": key, "value": value} for key, value in args.items()]
    run_meta: dict[str, Any] = {"namespace": namespace}
    if name:
        run_meta["name"] = name
    else:
        run_meta["generateName"] = generate_name or f"{meta.get('name', '')}-"
        if run_meta["generateName"] == "-":
            raise InputError("the AnalysisRun needs a name: the template has none, give --name or --generate-name")
    labels = dict(meta.get("labels") or {})
    if instance_id:
        labels[INSTANCE_ID] = instance_id
    for key, value in (("labels", labels), ("annotations", meta.get("annotations"))):
        if value:
            run_meta[key] = dict(value)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalysisRun", "metadata": run_meta, "spec": spec}


def _owned_replica_sets(kube: Kube, obj: dict[str, Any]) -> list[dict[str, Any]]:
    meta = obj.get("metadata", {})
    labels = obj.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    owned = []
    for rs in kube.replica_sets(meta.get("namespace", ""), selector):
        owners = rs.get("metadata", {}).get("ownerReferences") or []
        if any(o.get("kind") == "Rollout" and o.get("name") == meta.get("name") for o in owners):
            owned.append(rs)
    return owned


def undo(
    kube: Kube, namespace: str, name: str, to_revision: int | None = None, to_pod_hash: str | None = None
) -> int:
    """Roll the pod template back to a revision (default: the one before the current); returns it.

    ``to_pod_hash`` names the revision by its ReplicaSet's pod-template hash instead (the reactor
    passes ``status.stableRS``: the last revision that passed its analysis and was promoted).
    """
    obj = kube.get(namespace, name)
    by_revision: dict[int, dict[str, Any]] = {}
    for rs in _owned_replica_sets(kube, obj):
        revision = (rs.get("metadata", {}).get("annotations") or {}).get(REVISION)
        if revision is not None and str(revision).isdigit():
            by_revision[int(revision)] = rs
    if to_pod_hash is not None:
        hashes = {(rs["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH): r for r, rs in by_revision.items()}
        if to_pod_hash not in hashes:
            raise ClusterError(f"rollout {namespace}/{name} has no revision with pod-template hash {to_pod_hash}")
        to_revision = hashes[to_pod_hash]
    current = int((obj.get("metadata", {}).get("annotations") or {}).get(REVISION, max(by_revision, default=0)))
    if to_revision is None:
        earlier = [r for r in by_revision if r < current]
        if not earlier:
            raise ClusterError(f"rollout {namespace}/{name} has no revision before {current} to undo to")
        to_revision = max(earlier)
    if to_revision not in by_revision:
        known = ", ".join(str(r) for r in sorted(by_revision)) or "none"
        raise ClusterError(f"rollout {namespace}/{name} has no revision {to_revision} (known: {known})")
    template = copy.deepcopy(by_revision[to_revision]["spec"]["template"])
    (template.get("metadata", {}).get("labels") or {}).pop(POD_TEMPLATE_HASH, None)
    kube.json_patch(namespace, name, [{"op": "replace", "path": "/spec/template", "value": template}])
    return to_revision


def _set_images(obj: dict[str, Any], container: str, image: str) -> bool:
    changed = False
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(field) or []:
            if container in ("*", c.get("name")):
                c["image"] = image
                changed = True
    return changed


def set_image(kube: Kube, namespace: str, name: str, container: str, image: str) -> None:
    """Set a container's image (``*``: all) by a full update, re-reading and retrying on a conflict."""
    for attempt in range(SET_IMAGE_ATTEMPTS):
        obj = kube.get(namespace, name)
        if not _set_images(obj, container, image):
            raise ClusterError(f"rollout {namespace}/{name} has no container named {container!r}")
        try:
            kube.replace(namespace, name, obj)
            return
        except Conflict:
            if attempt == SET_IMAGE_ATTEMPTS - 1:
                raise
