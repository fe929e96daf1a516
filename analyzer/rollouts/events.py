"""Kubernetes Events on a Rollout (core/v1, what ``kubectl describe rollout`` and ``kubectl get events`` show).

Named ``<rollout>.<hex nanoseconds>`` as client-go's recorder names them; reported by the component
``canary-analyzer-reactor`` and the replica's identity, so that ``kubectl get events
--field-selector reason=CanaryUndone`` finds every undo and who made it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from analyzer.rollouts.client import GROUP, VERSION, Kube

COMPONENT = "canary-analyzer-reactor"
MESSAGE_LIMIT = 1024  # the API server refuses longer Event messages (events.k8s.io); keep core Events as short

#: Reasons, CamelCase as Kubernetes reasons are.
ANALYSIS_FAILED = "CanaryAnalysisFailed"
UNDONE = "CanaryUndone"
UNDO_REFUSED = "CanaryUndoRefused"
UNDO_FAILED = "CanaryUndoFailed"


def rollout_event(
    obj: dict[str, Any], warning: bool, reason: str, message: str, identity: str, now: datetime
) -> dict[str, Any]:
    """The Event body about a Rollout object as the API returned it."""
    meta = obj.get("metadata", {})
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', 'rollout')}.{time.time_ns():x}", "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Rollout",
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": "Warning" if warning else "Normal",
        "reason": reason,
        "message": message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": identity,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def record(kube: Kube, obj: dict[str, Any], warning: bool, reason: str, message: str, identity: str,
           now: datetime) -> None:
    """Create the Event on the Rollout's namespace."""
    kube.create_event(obj["metadata"]["namespace"], rollout_event(obj, warning, reason, message, identity, now))
