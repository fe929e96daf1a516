from __future__ import annotations

import pytest

from analyzer.rollouts import Kube
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
