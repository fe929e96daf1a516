"""Exactly once across replicas: a coordination.k8s.io/v1 Lease per Rollout, claimed per incident.

The Lease ``canary-analyzer-reactor.<rollout>`` lives in the Rollout's namespace and is owned by the
Rollout (it goes when the Rollout goes). It records the incident it was last claimed for
(annotation ``canary-analyzer.io/incident``: ``<revision>/<canary hash>``), who claimed it
(``spec.holderIdentity``) and, once handled, the outcome (``canary-analyzer.io/outcome``).

A replica acts on an incident only after its write of the Lease succeeded. Of two racing writes the
API server accepts one and answers the other 409: *AlreadyExists* for two creates, a stale
``resourceVersion`` for two updates. The loser reads the Lease again and finds the winner's claim.
A claim whose holder stops before recording an outcome expires after ``lease_seconds``; then another
replica (or the same one, restarted) may take it over.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from analyzer.errors import ClusterError
from analyzer.rollouts.client import GROUP, VERSION, Conflict, Kube
from analyzer.rollouts.incidents import AbortedUpdate

INCIDENT = "canary-analyzer.io/incident"
OUTCOME = "canary-analyzer.io/outcome"
PREFIX = "canary-analyzer-reactor."
ATTEMPTS = 3  # reads and writes of one claim or outcome before giving up on repeated 409s


def lease_name(rollout: str) -> str:
    """A valid object name (≤ 253 characters) for any Rollout name."""
    name = PREFIX + rollout
    return name if len(name) <= 253 else PREFIX + hashlib.sha256(rollout.encode()).hexdigest()


def _micro(moment: datetime) -> str:
    """Kubernetes MicroTime: RFC 3339 UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Claim:
    """``lease``: ours to act on, then :meth:`Claims.finish`; ``settled``: the incident has its outcome."""

    lease: dict[str, Any] | None
    settled: bool = False


@dataclass
class Claims:
    kube: Kube
    identity: str
    lease_seconds: int = 60
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def _state(self, lease: dict[str, Any] | None, key: str) -> Claim | None:
        """What a read Lease says: settled, held by a live claim of another replica, or (None) free to claim."""
        if lease is None:
            return None
        annotations = lease.get("metadata", {}).get("annotations") or {}
        if annotations.get(INCIDENT) != key:
            return None  # last claimed for an earlier incident
        if annotations.get(OUTCOME):
            return Claim(None, settled=True)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") == self.identity:
            return None  # our own claim, from before a restart
        renewed = spec.get("renewTime")
        duration = timedelta(seconds=int(spec.get("leaseDurationSeconds") or self.lease_seconds))
        if renewed and datetime.fromisoformat(str(renewed)) + duration > self.clock():
            return Claim(None)
        return None  # the holder stopped before recording an outcome

    def _claimed(self, current: dict[str, Any] | None, update: AbortedUpdate) -> dict[str, Any]:
        now = _micro(self.clock())
        lease: dict[str, Any] = copy.deepcopy(current) if current is not None else {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": lease_name(update.rollout),
                "namespace": update.namespace,
                "labels": {"app.kubernetes.io/managed-by": "canary-analyzer"},
                "ownerReferences": [
                    {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Rollout", "name": update.rollout, "uid": update.uid}
                ],
            },
            "spec": {"leaseTransitions": 0},
        }
        annotations = lease["metadata"].setdefault("annotations", {}) or {}
        annotations.pop(OUTCOME, None)
        annotations[INCIDENT] = update.key
        lease["metadata"]["annotations"] = annotations
        spec = lease.setdefault("spec", {})
        if current is not None:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=self.lease_seconds, acquireTime=now,
                    renewTime=now)
        return lease

    def claim(self, update: AbortedUpdate) -> Claim:
        """Claim the incident for this replica, unless it is settled or another replica's live claim holds it."""
        name = lease_name(update.rollout)
        for _ in range(ATTEMPTS):
            current = self.kube.lease(update.namespace, name)
            state = self._state(current, update.key)
            if state is not None:
                return state
            body = self._claimed(current, update)
            try:
                if current is None:
                    return Claim(self.kube.create_lease(update.namespace, body))
                return Claim(self.kube.replace_lease(update.namespace, body))
            except Conflict:
                continue  # another write came first: read what it wrote
        return Claim(None)

    def finish(self, lease: dict[str, Any], outcome: str) -> None:
        """Record the outcome on our claim, so that no replica handles the incident again."""
        meta = lease["metadata"]
        key = (meta.get("annotations") or {}).get(INCIDENT)
        for _ in range(ATTEMPTS):
            done = copy.deepcopy(lease)
            done["metadata"].setdefault("annotations", {})[OUTCOME] = outcome
            done["spec"]["renewTime"] = _micro(self.clock())
            try:
                self.kube.replace_lease(meta["namespace"], done)
                return
            except Conflict:
                current = self.kube.lease(meta["namespace"], meta["name"])
                annotations = (current or {}).get("metadata", {}).get("annotations") or {}
                holder = ((current or {}).get("spec") or {}).get("holderIdentity")
                if current is None or holder != self.identity or annotations.get(INCIDENT) != key:
                    raise ClusterError(f"lease {meta['namespace']}/{meta['name']} was taken over before the "
                                       f"outcome of {key} could be recorded: {outcome}") from None
                lease = current
        raise ClusterError(f"lease {meta['namespace']}/{meta['name']}: the outcome of {key} could not be recorded")
