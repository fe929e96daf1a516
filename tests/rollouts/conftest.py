from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from analyzer.rollouts import Kube
from analyzer.store import Database, JudgmentRecord, WindowKey
from analyzer.store.judgments import save_judgment
from analyzer.store.ledger import audit_events
from tests.support.argo_objects import CANARY, NEW_IMAGE, OLD_IMAGE, STABLE, analysis_run, replica_set, rollout
from tests.support.kube import cluster

ROLLOUTS = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"


@pytest.fixture
def k8s(tmp_path):
    """The emulator holding the example Rollout (revision 3 canary), its two ReplicaSets and an AnalysisRun."""
    with cluster(tmp_path) as c:
        obj = rollout()
        c.put(ROLLOUTS, obj)
        c.put("/apis/apps/v1/namespaces/shop/replicasets", replica_set(obj, STABLE, 2, OLD_IMAGE))
        c.put("/apis/apps/v1/namespaces/shop/replicasets", replica_set(obj, CANARY, 3, NEW_IMAGE))
        c.put("/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns", analysis_run("shop", "checkout-run-1"))
        yield c


@pytest.fixture
def kube(k8s):
    return Kube(kubeconfig=str(k8s.kubeconfig))


def reset(k8s, **status) -> None:
    """Replace the Rollout with the example one, its status changed as given."""
    k8s.delete(f"{ROLLOUTS}/checkout")
    k8s.put(ROLLOUTS, rollout(**status))


# --------------------------------------------------------------------------------------------
# The reactor: an aborted update whose background analysis failed on one of our judgments.

JUDGMENT_ID = "0f" * 16
REPORT = f"http://canary-analyzer.canary-analyzer.svc:8080/api/v1/judgments/{JUDGMENT_ID}"
REASON = "error rate: canary 4.1 % vs stable 0.3 %, ratio > 2 with e-value 41 (fail)"
RUN = f"checkout-{CANARY}-3"


def judgment_body(verdict: str = "fail") -> dict:
    """What the service answered and Argo stored as the measurement's value (``jsonPath: "{$}"``)."""
    return {"verdict": verdict, "score": 12.0, "metrics": [], "reasons": [REASON], "id": JUDGMENT_ID,
            "report": REPORT}


def aborted(on_fail: str | None = "undo", **meta) -> dict:
    """The example Rollout after Argo aborted revision 3 on a failed background analysis."""
    obj = rollout(
        phase="Degraded", message="RolloutAborted: Rollout aborted update to revision 3: Background analysis failed",
        abort=True, abortedAt="2026-11-22T05:04:00Z", currentStepIndex=0, pauseConditions=None, controllerPause=None,
        canary={"currentBackgroundAnalysisRunStatus": {"name": RUN, "status": "Failed"}, "weights": None},
    )
    if on_fail is not None:
        obj["metadata"]["annotations"]["canary-analyzer.io/on-fail"] = on_fail
    for key, value in meta.items():
        obj["metadata"][key] = value
    return obj


def failed_run(value: object, phase: str = "Failed", provider: str = "web") -> dict:
    """The background AnalysisRun of the canary, its last measurement ``value`` with ``phase``."""
    obj = rollout()
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": RUN, "namespace": "shop", "creationTimestamp": "2026-11-22T05:00:10Z",
            "labels": {"app": "checkout", "rollouts-pod-template-hash": CANARY, "rollout-type": "Background"},
            "annotations": {"rollout.argoproj.io/revision": "3"},
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "checkout",
                                 "uid": obj["metadata"]["uid"], "controller": True}],
        },
        "spec": {"metrics": [{"name": "canary-judge", "provider": {provider: {"url": "http://canary-analyzer/x"}}}]},
        "status": {
            "phase": phase,
            "message": "Metric \"canary-judge\" assessed Failed due to failed (1) > failureLimit (0)",
            "metricResults": [{
                "name": "canary-judge", "phase": phase, "count": 3, "failed": 1, "inconclusive": 2,
                "measurements": [
                    {"phase": "Inconclusive", "value": json.dumps(judgment_body("inconclusive"))},
                    {"phase": phase, "value": value if isinstance(value, str) else json.dumps(value)},
                ],
            }],
        },
    }


@pytest.fixture
def cluster_db(tmp_path):
    """The ledger, migrated, holding the failed judgment the AnalysisRun names."""
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.migrate()
    key = WindowKey("shop", "checkout", "http", CANARY, STABLE)
    record = JudgmentRecord(
        id=JUDGMENT_ID, created_at=datetime(2026, 11, 22, 5, 4, tzinfo=UTC), key=key, verdict="fail", score=12.0,
        steps=4, window_start=0, window_end=240, step_seconds=60, input_digest="sha256:" + "0" * 64,
        body=judgment_body(),
    )
    with db.session() as session:
        save_judgment(session, record)
    yield db
    db.dispose()


@pytest.fixture
def aborted_cluster(tmp_path):
    """The emulator, keeping versions as an API server does, with the aborted Rollout, its ReplicaSets and run."""
    with cluster(tmp_path) as c:
        c.emulator.bookkeeping = True
        obj = rollout()
        c.put("/apis/apps/v1/namespaces/shop/replicasets", replica_set(obj, STABLE, 2, OLD_IMAGE))
        c.put("/apis/apps/v1/namespaces/shop/replicasets", replica_set(obj, CANARY, 3, NEW_IMAGE))
        c.put("/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns", failed_run(judgment_body()))
        c.put(ROLLOUTS, aborted())
        yield c


def audit_rows(db: Database) -> list[dict]:
    with db.session() as session:
        return list(audit_events(session))
