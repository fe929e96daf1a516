"""Exactly once across replicas: two reactors racing for one incident, a 409 from the API server, a claim
whose holder died, and the watch that feeds the reactor — all on the HTTP-level emulator."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from analyzer.rollouts import Kube
from analyzer.service.reactor import Reactor
from tests.rollouts.conftest import ROLLOUTS, aborted, audit_rows
from tests.support.argo_objects import CANARY, OLD_IMAGE, rollout

R = f"{ROLLOUTS}/checkout"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
LEASE = f"{LEASES}/canary-analyzer-reactor.checkout"
UID = "0e6c1f0a-7d1b-4b8e-9a53-4d2f4c7e6b10"


def _lease(incident: str, holder: str, renewed: datetime, outcome: str | None) -> dict:
    annotations = {"canary-analyzer.io/incident": incident}
    if outcome is not None:
        annotations["canary-analyzer.io/outcome"] = outcome
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "canary-analyzer-reactor.checkout", "namespace": "shop", "annotations": annotations},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60, "acquireTime": stamp, "renewTime": stamp,
                 "leaseTransitions": 0},
    }


def _racing(c, db, identities: tuple[str, ...]) -> list[Reactor]:
    """Reactors whose first read of the Lease waits until every one has read it: their writes then collide."""
    barrier = threading.Barrier(len(identities), timeout=10)
    reactors = []
    for identity in identities:
        kube = Kube(kubeconfig=str(c.kubeconfig))
        read, first = kube.lease, [True]

        def lease(namespace: str, name: str, read=read, first=first) -> dict | None:
            found = read(namespace, name)
            if first[0]:
                first[0] = False
                barrier.wait()
            return found

        kube.lease = lease  # type: ignore[method-assign]
        reactors.append(Reactor(kube, db, identity))
    return reactors


def _writes(c, path: str) -> list[str]:
    return [m for m, p, _, _ in c.calls() if p.startswith(path) and m != "GET"]


@pytest.mark.parametrize("earlier", [False, True], ids=["no-lease-yet", "lease-of-an-earlier-incident"])
def test_two_replicas_racing_undo_exactly_once(aborted_cluster, cluster_db, earlier):
    c = aborted_cluster
    if earlier:  # both will PUT the same resourceVersion: the API server takes one, answers the other 409
        c.put(LEASES, _lease(f"2/{'a' * 9}", "reactor-old", datetime(2026, 11, 1, tzinfo=UTC), "undone: …"))
    obj = c.obj("rollouts", "shop", "checkout")
    reactors = _racing(c, cluster_db, ("reactor-a", "reactor-b"))
    outcomes: dict[str, object] = {}
    threads = [threading.Thread(target=lambda r=r: outcomes.update({r.identity: r.handle(obj)})) for r in reactors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    done = [o for o in outcomes.values() if o is not None]
    assert len(outcomes) == 2 and len(done) == 1 and done[0].action == "undone"  # type: ignore[attr-defined]
    winner = next(i for i, o in outcomes.items() if o is not None)
    claims = _writes(c, LEASES)
    # two claims sent (POST+POST, or PUT+PUT with one resourceVersion), one accepted; then the winner's outcome
    assert claims == (["PUT", "PUT", "PUT"] if earlier else ["POST", "POST", "PUT"])
    assert [m for m, p, t, _ in c.calls() if p == R and m == "PATCH"] == ["PATCH"]  # one undo
    lease = c.obj("leases", "shop", "canary-analyzer-reactor.checkout")
    assert lease["spec"]["holderIdentity"] == winner
    assert lease["metadata"]["annotations"]["canary-analyzer.io/incident"] == f"3/{CANARY}"
    assert lease["metadata"]["annotations"]["canary-analyzer.io/outcome"].startswith("undone")
    assert lease["spec"]["leaseTransitions"] == (1 if earlier else 0)
    assert sorted(e["reason"] for e in c.objects("events", "shop")) == ["CanaryAnalysisFailed", "CanaryUndone"]
    assert {e["reportingInstance"] for e in c.objects("events", "shop")} == {winner}
    (entry,) = audit_rows(cluster_db)
    assert (entry["action"], entry["actor"]) == ("rollout.undone", f"reactor:{winner}")
    assert c.obj("rollouts", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"] == OLD_IMAGE


def test_an_api_server_conflict_on_the_claim_is_read_again_and_retried(aborted_cluster, cluster_db):
    c = aborted_cluster
    c.put(LEASES, _lease(f"2/{'a' * 9}", "reactor-old", datetime(2026, 11, 1, tzinfo=UTC), "undone: …"))
    c.emulator.conflicts = 1  # the next PUT answers 409 although nobody else wrote
    outcome = Reactor(Kube(kubeconfig=str(c.kubeconfig)), cluster_db, "reactor-a").handle(
        c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and outcome.action == "undone"
    lease_calls = [(m, p) for m, p, _, _ in c.calls() if p.startswith(LEASES)]
    assert lease_calls == [("GET", LEASE), ("PUT", LEASE), ("GET", LEASE), ("PUT", LEASE), ("PUT", LEASE)]
    assert len(audit_rows(cluster_db)) == 1


def test_a_live_claim_of_another_replica_is_respected_and_a_dead_one_taken_over(aborted_cluster, cluster_db):
    c = aborted_cluster
    now = datetime.now(UTC)
    c.put(LEASES, _lease(f"3/{CANARY}", "reactor-gone", now - timedelta(seconds=5), None))
    obj = c.obj("rollouts", "shop", "checkout")
    assert Reactor(Kube(kubeconfig=str(c.kubeconfig)), cluster_db, "reactor-a").handle(obj) is None
    assert _writes(c, "/") == []  # it waits for the holder
    c.forget_calls()
    later = Reactor(Kube(kubeconfig=str(c.kubeconfig)), cluster_db, "reactor-a",
                    clock=lambda: now + timedelta(seconds=61))
    outcome = later.handle(obj)  # the holder never recorded an outcome: its claim expired
    assert outcome is not None and outcome.action == "undone"
    assert _writes(c, LEASES) == ["PUT", "PUT"]
    assert c.obj("leases", "shop", "canary-analyzer-reactor.checkout")["spec"]["leaseTransitions"] == 1


def test_a_taken_over_incident_already_undone_is_closed_without_acting(aborted_cluster, cluster_db):
    """A holder that undid and then died: the Rollout, re-read, is no longer aborted at that update."""
    c = aborted_cluster
    stale = c.obj("rollouts", "shop", "checkout")
    c.put(LEASES, _lease(f"3/{CANARY}", "reactor-gone", datetime(2026, 11, 1, tzinfo=UTC), None))
    c.patch(R, {"metadata": {"generation": 4}})  # its undo, not yet observed by the controller
    outcome = Reactor(Kube(kubeconfig=str(c.kubeconfig)), cluster_db, "reactor-a").handle(stale)
    assert outcome is not None and outcome.action == "gone"
    assert _writes(c, "/") == ["PUT", "PUT"]  # the claim and its outcome; no event, no patch
    assert audit_rows(cluster_db) == [] and c.objects("events", "shop") == []


def test_the_watch_feeds_the_reactor(aborted_cluster, cluster_db):
    c = aborted_cluster
    c.delete(R)
    healthy = rollout()
    healthy["metadata"]["annotations"]["canary-analyzer.io/on-fail"] = "undo"
    c.put(ROLLOUTS, healthy)
    reactor = Reactor(Kube(kubeconfig=str(c.kubeconfig)), cluster_db, "reactor-a")
    stop = threading.Event()
    thread = threading.Thread(target=reactor.follow, args=("shop", 300, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not any(q[2].get("watch") for q in c.queries()) and time.monotonic() < deadline:
        time.sleep(0.02)
    (watch,) = c.queries()  # every watch starts from the current state (no resourceVersion): a full resync
    c.patch(R, {"status": aborted()["status"]})  # the controller aborts revision 3
    image = ""
    while image != OLD_IMAGE and time.monotonic() < deadline:
        time.sleep(0.02)
        image = c.obj("rollouts", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"]
    stop.set()
    c.patch(R, {"metadata": {"labels": {"nudge": "1"}}})  # one more event, so that the watch loop sees the stop
    thread.join(10)
    assert image == OLD_IMAGE and not thread.is_alive()
    assert watch == ("GET", ROLLOUTS, {"watch": "true", "timeoutSeconds": "300"})
    assert len(audit_rows(cluster_db)) == 1
