"""What the reactor reads off API objects: a Rollout's on-fail policy, an update Argo aborted because
one of our judgments failed, and whether a GitOps tool owns the Rollout. Pure functions, no API calls.

An *incident* is one aborted update: the Rollout's revision and the pod-template hash of the canary
that was aborted (``status.abort`` set, ``currentPodHash`` ≠ ``stableRS``), read only once the
controller has observed the current spec (``observedGeneration`` = ``generation``), so that an undo
already sent, or a retry, is never mistaken for the abort it answers.

It is *ours* when an AnalysisRun of that canary (owned by the Rollout, labelled with its hash) failed
on a web-provider measurement whose value is one of our Judgments with verdict ``fail``: Argo stores
the answer it judged (``jsonPath: "{$}"``) as the measurement's value, id and report link included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from analyzer.rollouts.actions import POD_TEMPLATE_HASH, REVISION

ON_FAIL = "canary-analyzer.io/on-fail"

#: Label or annotation keys that mean "reconciled from Git", by tool: Argo CD's tracking annotation, its
#: custom and default tracking labels (``app.kubernetes.io/instance``, the default before Argo CD 3.0, is
#: also set by many Helm charts: drop it from ``reactor_gitops_markers`` if no Argo CD uses label tracking),
#: and the labels Flux's kustomize- and helm-controller put on what they apply.
GITOPS_MARKERS = {
    "argocd.argoproj.io/tracking-id": "Argo CD",
    "argocd.argoproj.io/instance": "Argo CD",
    "app.kubernetes.io/instance": "Argo CD",
    "kustomize.toolkit.fluxcd.io/name": "Flux",
    "helm.toolkit.fluxcd.io/name": "Flux",
}
#: Field managers of GitOps controllers (server-side apply), by tool.
GITOPS_MANAGERS = {"argocd-controller": "Argo CD", "kustomize-controller": "Flux", "helm-controller": "Flux"}


class OnFail(StrEnum):
    """The annotation's values: undo the aborted update, or keep Argo's abort (and only report it)."""

    UNDO = "undo"
    ABORT = "abort"


def on_fail(obj: dict[str, Any]) -> OnFail | None:
    """The Rollout's policy, or None when it has not opted in (no annotation, or a value we do not know)."""
    value = (obj.get("metadata", {}).get("annotations") or {}).get(ON_FAIL)
    try:
        return OnFail(str(value).strip().lower()) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AbortedUpdate:
    namespace: str
    rollout: str
    uid: str
    revision: str
    canary_hash: str
    stable_hash: str

    @property
    def key(self) -> str:
        """The same on every replica and every look: what a claim is taken for."""
        return f"{self.revision}/{self.canary_hash}"


def aborted_update(obj: dict[str, Any]) -> AbortedUpdate | None:
    """The update Argo aborted, once the controller has observed the spec that is aborted; else None."""
    meta, status = obj.get("metadata", {}), obj.get("status") or {}
    canary, stable = status.get("currentPodHash"), status.get("stableRS")
    observed = str(status.get("observedGeneration", "")) == str(meta.get("generation", ""))
    if not status.get("abort") or not canary or not stable or canary == stable or not observed:
        return None
    return AbortedUpdate(
        namespace=meta.get("namespace", ""),
        rollout=meta.get("name", ""),
        uid=meta.get("uid", ""),
        revision=str((meta.get("annotations") or {}).get(REVISION, "")),
        canary_hash=str(canary),
        stable_hash=str(stable),
    )


@dataclass(frozen=True)
class FailedJudgment:
    """Our judgment that failed the canary, as Argo recorded it in the AnalysisRun."""

    analysis_run: str
    metric: str
    judgment_id: str | None
    report: str | None
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return self.reasons[0] if self.reasons else "the canary analysis failed"


def _judgment(value: Any) -> dict[str, Any] | None:
    try:
        body = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("verdict") == "fail" and isinstance(body.get("id"), str):
        return body
    return None


def _owned_by(run: dict[str, Any], update: AbortedUpdate) -> bool:
    meta = run.get("metadata", {})
    owners = meta.get("ownerReferences") or []
    owned = any(o.get("kind") == "Rollout" and o.get("name") == update.rollout for o in owners)
    return owned and (meta.get("labels") or {}).get(POD_TEMPLATE_HASH) == update.canary_hash


def _web_metrics(run: dict[str, Any]) -> set[str]:
    return {m.get("name", "") for m in run.get("spec", {}).get("metrics") or [] if "web" in (m.get("provider") or {})}


def failed_judgment(update: AbortedUpdate, runs: Iterable[dict[str, Any]]) -> FailedJudgment | None:
    """The newest failed judgment of ours among the aborted canary's AnalysisRuns, if one made it fail."""
    ours = [r for r in runs if _owned_by(r, update) and (r.get("status") or {}).get("phase") == "Failed"]
    ours.sort(key=lambda r: str(r.get("metadata", {}).get("creationTimestamp", "")), reverse=True)
    for run in ours:
        web = _web_metrics(run)
        for result in run["status"].get("metricResults") or []:
            if result.get("phase") != "Failed" or result.get("name") not in web:
                continue
            for measurement in reversed(result.get("measurements") or []):
                body = _judgment(measurement.get("value")) if measurement.get("phase") == "Failed" else None
                if body is not None:
                    return FailedJudgment(
                        analysis_run=run["metadata"].get("name", ""),
                        metric=result["name"],
                        judgment_id=body["id"],
                        report=body.get("report"),
                        reasons=tuple(str(r) for r in body.get("reasons") or []),
                    )
    return None


def gitops_owner(obj: dict[str, Any], markers: Sequence[str] = tuple(GITOPS_MARKERS)) -> str | None:
    """Who reconciles this Rollout from Git, with the evidence, e.g. ``Argo CD (annotation …)``; else None.

    ``markers`` are label or annotation keys that mean "managed from Git" (default: :data:`GITOPS_MARKERS`);
    the field managers of Argo CD's and Flux's server-side apply count too.
    """
    meta = obj.get("metadata", {})
    for kind, found in (("label", meta.get("labels") or {}), ("annotation", meta.get("annotations") or {})):
        for key in markers:
            if key in found:
                return f"{GITOPS_MARKERS.get(key, 'a GitOps tool')} ({kind} {key}={found[key]})"
    for entry in meta.get("managedFields") or []:
        tool = GITOPS_MANAGERS.get(entry.get("manager", ""))
        if tool is not None:
            return f"{tool} (field manager {entry['manager']})"
    return None
