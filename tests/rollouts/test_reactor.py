"""The reactor on one replica, on the HTTP-level emulator: the exact requests of an undo, of a refusal,
of keeping an abort, and of leaving alone what is not ours; its audit entries, Events and metric."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from analyzer.errors import ClusterError
from analyzer.promotion.audit import verify
from analyzer.rollouts import Kube
from analyzer.service.reactor import Reactor
from tests.rollouts.conftest import (
    JUDGMENT_ID,
    REASON,
    REPORT,
    ROLLOUTS,
    RUN,
    aborted,
    audit_rows,
    failed_run,
    judgment_body,
)
from tests.support.argo_objects import CANARY, OLD_IMAGE, STABLE

MERGE, JSON_PATCH, JSON = "application/merge-patch+json", "application/json-patch+json", "application/json"
R = f"{ROLLOUTS}/checkout"
RUNS = "/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
LEASE = f"{LEASES}/canary-analyzer-reactor.checkout"
EVENTS = "/api/v1/namespaces/shop/events"
UID = "0e6c1f0a-7d1b-4b8e-9a53-4d2f4c7e6b10"
RS = "/apis/apps/v1/namespaces/shop/replicasets"


def _reactor(c, db, identity: str = "reactor-a") -> Reactor:
    return Reactor(Kube(kubeconfig=str(c.kubeconfig)), db, identity)


def _outcomes(outcome: str) -> float:
    return REGISTRY.get_sample_value("canary_analyzer_reactor_actions_total", {"outcome": outcome}) or 0.0


def _reset(c, obj) -> None:
    c.delete(R)
    c.put(ROLLOUTS, obj)


def test_an_annotated_rollout_failed_by_our_judgment_is_undone_to_the_stable_revision(aborted_cluster, cluster_db):
    c = aborted_cluster
    before = _outcomes("undone")
    outcome = _reactor(c, cluster_db).handle(c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and (outcome.action, outcome.revision) == ("undone", 2)
    assert [(m, p, t) for m, p, t, _ in c.calls()] == [
        ("GET", RUNS, ""),                # the canary's AnalysisRuns
        ("GET", LEASE, ""),               # 404: nobody has claimed this Rollout yet
        ("POST", LEASES, JSON),           # the claim
        ("GET", R, ""),                   # re-read before acting
        ("POST", EVENTS, JSON),           # CanaryAnalysisFailed
        ("GET", R, ""),                   # the plugin's undo: the Rollout,
        ("GET", RS, ""),                  # its ReplicaSets,
        ("PATCH", R, JSON_PATCH),         # the template of the stable revision
        ("POST", EVENTS, JSON),           # CanaryUndone
        ("PUT", LEASE, JSON),             # the outcome on the claim
    ]
    queries = {(m, p): q for m, p, q in c.queries()}
    assert queries[("GET", RUNS)] == {"labelSelector": f"rollouts-pod-template-hash={CANARY}"}
    assert queries[("GET", RS)] == {"labelSelector": "app=checkout"}
    calls = c.calls()
    claim, patch, done = calls[2][3], calls[7][3], calls[9][3]
    assert claim["metadata"]["annotations"] == {"canary-analyzer.io/incident": f"3/{CANARY}"}
    assert claim["metadata"]["ownerReferences"] == [{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "checkout", "uid": UID}]
    assert (claim["spec"]["holderIdentity"], claim["spec"]["leaseDurationSeconds"]) == ("reactor-a", 60)
    (op,) = patch
    assert (op["op"], op["path"]) == ("replace", "/spec/template")
    assert op["value"]["spec"]["containers"][0]["image"] == OLD_IMAGE
    assert op["value"]["metadata"]["labels"] == {"app": "checkout"}
    assert done["metadata"]["annotations"]["canary-analyzer.io/outcome"].startswith("undone: undone to revision 2")
    failed, undone = calls[4][3], calls[8][3]
    assert (failed["type"], failed["reason"], undone["type"], undone["reason"]) == (
        "Warning", "CanaryAnalysisFailed", "Normal", "CanaryUndone")
    assert failed["involvedObject"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "checkout",
                                        "namespace": "shop", "uid": UID, "resourceVersion": "1000"}
    assert RUN in failed["message"] and JUDGMENT_ID in failed["message"] and REASON in failed["message"]
    assert REPORT in failed["message"] and REPORT in undone["message"] and f"stable {STABLE}" in undone["message"]
    assert failed["reportingInstance"] == "reactor-a" and failed["source"] == {"component": "canary-analyzer-reactor"}
    (entry,) = audit_rows(cluster_db)
    assert (entry["actor"], entry["action"], entry["reason"]) == ("reactor:reactor-a", "rollout.undone", REASON)
    assert entry["data"].pop("detail") == outcome.detail
    assert entry["data"] == {
        "namespace": "shop", "rollout": "checkout", "revision": "3", "canary_hash": CANARY, "stable_hash": STABLE,
        "analysis_run": RUN, "judgment_id": JUDGMENT_ID, "report": REPORT, "to_revision": 2,
        "judgment_recorded": True}
    assert verify(audit_rows(cluster_db)).ok
    assert _outcomes("undone") == before + 1
    assert c.obj("rollouts", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"] == OLD_IMAGE


def test_an_incident_is_handled_once(aborted_cluster, cluster_db):
    c = aborted_cluster
    stale = c.obj("rollouts", "shop", "checkout")
    reactor = _reactor(c, cluster_db)
    reactor.handle(stale)
    c.forget_calls()
    assert reactor.handle(stale) is None and c.calls() == []  # this process remembers
    assert _reactor(c, cluster_db, "reactor-b").handle(stale) is None  # another replica reads the outcome
    assert [(m, p) for m, p, _, _ in c.calls()] == [("GET", RUNS), ("GET", LEASE)]
    c.forget_calls()
    undone = c.obj("rollouts", "shop", "checkout")  # generation 4, not yet observed by the controller
    assert _reactor(c, cluster_db, "reactor-c").handle(undone) is None and c.calls() == []
    assert len(audit_rows(cluster_db)) == 1


@pytest.mark.parametrize("on_fail", [None, "", "rollback", "UNDO "])
def test_a_rollout_that_did_not_opt_in_is_never_touched(aborted_cluster, cluster_db, on_fail):
    c = aborted_cluster
    _reset(c, aborted(on_fail=on_fail))
    outcome = _reactor(c, cluster_db).handle(c.obj("rollouts", "shop", "checkout"))
    if on_fail == "UNDO ":  # the value is read case- and space-insensitively
        assert outcome is not None and outcome.action == "undone"
        return
    assert outcome is None and c.calls() == [] and audit_rows(cluster_db) == []


def test_on_fail_abort_keeps_the_abort_and_reports_it(aborted_cluster, cluster_db):
    c = aborted_cluster
    _reset(c, aborted(on_fail="abort"))
    outcome = _reactor(c, cluster_db).handle(c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and outcome.action == "abort_kept"
    writes = [(m, p) for m, p, _, _ in c.calls() if m != "GET"]
    assert writes == [("POST", LEASES), ("POST", EVENTS), ("PUT", LEASE)]
    assert [e["reason"] for e in c.objects("events", "shop")] == ["CanaryAnalysisFailed"]
    (entry,) = audit_rows(cluster_db)
    assert (entry["action"], entry["data"]["judgment_id"], entry["data"]["to_revision"]) == (
        "rollout.abort_kept", JUDGMENT_ID, None)


@pytest.mark.parametrize(
    ("meta", "owner"),
    [
        ({"annotations": {"rollout.argoproj.io/revision": "3", "canary-analyzer.io/on-fail": "undo",
                          "argocd.argoproj.io/tracking-id": "shop:argoproj.io/Rollout:shop/checkout"}},
         "Argo CD (annotation argocd.argoproj.io/tracking-id=shop:argoproj.io/Rollout:shop/checkout)"),
        ({"labels": {"app.kubernetes.io/instance": "shop"}}, "Argo CD (label app.kubernetes.io/instance=shop)"),
        ({"labels": {"kustomize.toolkit.fluxcd.io/name": "apps"}},
         "Flux (label kustomize.toolkit.fluxcd.io/name=apps)"),
        ({"managedFields": [{"manager": "kubectl-edit"}, {"manager": "helm-controller", "operation": "Apply"}]},
         "Flux (field manager helm-controller)"),
    ],
)
def test_a_gitops_managed_rollout_is_not_undone(aborted_cluster, cluster_db, meta, owner):
    c = aborted_cluster
    _reset(c, aborted(**meta))
    before = _outcomes("refused")
    outcome = _reactor(c, cluster_db).handle(c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and outcome.action == "refused"
    assert not [call for call in c.calls() if call[0] == "PATCH"]
    failed, refused = c.objects("events", "shop")
    assert (failed["reason"], refused["reason"], refused["type"]) == (
        "CanaryAnalysisFailed", "CanaryUndoRefused", "Warning")
    assert f"managed by {owner}" in refused["message"] and "revert the change in Git" in refused["message"]
    (entry,) = audit_rows(cluster_db)
    assert entry["action"] == "rollout.refused" and owner in entry["data"]["detail"]
    assert _outcomes("refused") == before + 1
    lease = c.obj("leases", "shop", "canary-analyzer-reactor.checkout")
    assert lease["metadata"]["annotations"]["canary-analyzer.io/outcome"].startswith("refused: not undone")


def test_gitops_markers_are_settings(aborted_cluster, cluster_db):
    c = aborted_cluster
    _reset(c, aborted(labels={"app.kubernetes.io/instance": "shop", "app.kubernetes.io/managed-by": "Helm"}))
    reactor = Reactor(Kube(kubeconfig=str(c.kubeconfig)), cluster_db, "r", gitops_markers=("example.com/git",))
    outcome = reactor.handle(c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and outcome.action == "undone"  # a Helm-installed Rollout, no Argo CD label tracking


@pytest.mark.parametrize(
    "run",
    [
        failed_run("received non 2xx response code: 503", phase="Error"),  # our service failed: not a judgment
        failed_run(judgment_body(), provider="prometheus"),  # another provider's metric
        failed_run("0.07"),  # a web metric of someone else's
        None,  # a person aborted; no run failed
    ],
)
def test_an_abort_that_is_not_our_failed_judgment_is_left_alone(aborted_cluster, cluster_db, run):
    c = aborted_cluster
    c.delete(f"{RUNS}/{failed_run(None)['metadata']['name']}")
    if run is not None:
        c.put(RUNS, run)
    reactor = _reactor(c, cluster_db)
    assert reactor.handle(c.obj("rollouts", "shop", "checkout")) is None
    assert [(m, p) for m, p, _, _ in c.calls()] == [("GET", RUNS)]
    c.forget_calls()
    assert reactor.handle(c.obj("rollouts", "shop", "checkout")) is None and c.calls() == []  # remembered
    assert c.objects("events", "shop") == [] and audit_rows(cluster_db) == []


def test_a_rollout_not_yet_observed_or_not_aborted_needs_no_request(aborted_cluster, cluster_db):
    c = aborted_cluster
    reactor = _reactor(c, cluster_db)
    unobserved = aborted()
    unobserved["metadata"]["generation"] = 4
    for obj in (unobserved, aborted() | {"status": aborted()["status"] | {"abort": False}}):
        assert reactor.handle(obj) is None
    assert c.calls() == []


def test_a_failed_undo_is_reported_once(aborted_cluster, cluster_db):
    c = aborted_cluster
    c.emulator.forbidden = {"PATCH"}
    outcome = _reactor(c, cluster_db).handle(c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and outcome.action == "undo_failed" and "forbidden" in outcome.detail
    assert [e["reason"] for e in c.objects("events", "shop")] == ["CanaryAnalysisFailed", "CanaryUndoFailed"]
    (entry,) = audit_rows(cluster_db)
    assert entry["action"] == "rollout.undo_failed"
    lease = c.obj("leases", "shop", "canary-analyzer-reactor.checkout")
    assert lease["metadata"]["annotations"]["canary-analyzer.io/outcome"].startswith("undo_failed")


def test_a_judgment_missing_from_the_ledger_is_audited_as_such(aborted_cluster, tmp_path):
    from analyzer.store import Database

    empty = Database(f"sqlite:///{tmp_path / 'other.db'}")
    empty.migrate()
    _reactor(aborted_cluster, empty).handle(aborted_cluster.obj("rollouts", "shop", "checkout"))
    (entry,) = audit_rows(empty)
    assert entry["data"]["judgment_recorded"] is False and entry["data"]["report"] == REPORT
    empty.dispose()


def test_health_metrics_and_readiness(aborted_cluster, cluster_db):
    from wsgiref.util import setup_testing_defaults

    from analyzer.service.reactor import health_app

    reactor = _reactor(aborted_cluster, cluster_db)
    app = health_app(reactor, resync_seconds=300)

    def get(path: str) -> tuple[str, str]:
        environ: dict = {"PATH_INFO": path}
        setup_testing_defaults(environ)
        answer: list[str] = []
        body = b"".join(app(environ, lambda status, headers: answer.append(status)))
        return answer[0], body.decode()

    assert get("/healthz") == ("503 Service Unavailable", "not started")
    reactor.progress["shop"] = time.monotonic()
    assert get("/healthz") == ("200 OK", "ok")
    reactor.progress["shop"] -= 400  # no step for longer than a watch can last: it hangs
    assert get("/healthz") == ("503 Service Unavailable", "stalled: shop")
    assert get("/readyz") == ("200 OK", "ok")  # never takes the judge sharing the pod out of its Service
    status, metrics = get("/metrics")
    assert status.startswith("200") and "canary_analyzer_reactor_actions_total" in metrics


def test_the_command_exits_4_without_a_cluster(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from analyzer.cli import app

    monkeypatch.setenv("CANARY_ANALYZER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("CANARY_ANALYZER_KUBECONFIG", str(tmp_path / "missing"))
    result = CliRunner().invoke(app, ["rollout", "reactor", "--identity", "r"])
    assert result.exit_code == 4 and "kubeconfig" in result.output


def test_an_event_that_cannot_be_posted_does_not_stop_the_undo_or_its_audit(aborted_cluster, cluster_db):
    c = aborted_cluster
    before = REGISTRY.get_sample_value("canary_analyzer_reactor_errors_total", {"cause": "events"}) or 0.0
    reactor = _reactor(c, cluster_db)

    def refused(namespace: str, event: dict) -> None:
        raise ClusterError(f"forbidden: these credentials may not create events in {namespace}")

    reactor.kube.create_event = refused  # type: ignore[method-assign]
    outcome = reactor.handle(c.obj("rollouts", "shop", "checkout"))
    assert outcome is not None and outcome.action == "undone"
    assert len(audit_rows(cluster_db)) == 1 and c.objects("events", "shop") == []
    assert REGISTRY.get_sample_value("canary_analyzer_reactor_errors_total", {"cause": "events"}) == before + 2
