"""Reading incidents off API objects: which run and judgment failed the canary, who owns the Rollout, Lease names."""

from __future__ import annotations

from analyzer.rollouts.incidents import aborted_update, failed_judgment, gitops_owner
from analyzer.rollouts.leases import lease_name
from tests.rollouts.conftest import JUDGMENT_ID, aborted, failed_run, judgment_body


def test_the_newest_failed_run_of_the_aborted_canary_names_the_judgment():
    update = aborted_update(aborted())
    assert update is not None and update.key == "3/6b9c4d4f8"
    old = failed_run(judgment_body() | {"id": "1" * 32})
    new = failed_run(judgment_body())
    new["metadata"]["creationTimestamp"] = "2026-11-22T05:30:00Z"
    other = failed_run(judgment_body() | {"id": "2" * 32})
    other["metadata"]["labels"]["rollouts-pod-template-hash"] = "0000000"  # another canary's run
    found = failed_judgment(update, [old, other, new])
    assert found is not None and found.judgment_id == JUDGMENT_ID and found.metric == "canary-judge"
    assert failed_judgment(update, [other]) is None
    unowned = failed_run(judgment_body())
    unowned["metadata"]["ownerReferences"] = []
    assert failed_judgment(update, [unowned]) is None
    assert failed_judgment(update, [failed_run("{not json")]) is None


def test_gitops_owner_names_the_evidence():
    assert gitops_owner(aborted()) is None
    assert gitops_owner(aborted(labels={"helm.toolkit.fluxcd.io/name": "shop"})) == (
        "Flux (label helm.toolkit.fluxcd.io/name=shop)")
    assert gitops_owner(aborted(managedFields=[{"manager": "argocd-controller"}])) == (
        "Argo CD (field manager argocd-controller)")
    assert gitops_owner(aborted(labels={"example.com/git": "x"}), ["example.com/git"]) == (
        "a GitOps tool (label example.com/git=x)")


def test_lease_names_stay_valid_for_any_rollout_name():
    assert lease_name("checkout") == "canary-analyzer-reactor.checkout"
    long = lease_name("a" * 253)
    assert len(long) <= 253 and long.startswith("canary-analyzer-reactor.") and long != lease_name("b" * 253)
