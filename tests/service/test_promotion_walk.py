"""End to end: V1 → V3 → V2 driven through the Kubernetes API emulator, judged by the analysis use case on a
real Prometheus; a candidate quarantined in V3, another failing its V2 canary and rolled back to stable.

The test plays Argo Rollouts' controller: when the flow sets a candidate's image on a stage's Rollout, the
test moves that Rollout's status to the canary's pod-template hashes (of the backfilled data it should
see), and later to Healthy.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analyzer.promotion.stages import (
    Approvals,
    CanaryJudgments,
    JUnitReport,
    Pipeline,
    RolloutHealthy,
    RolloutTarget,
    Stage,
)
from analyzer.rollouts import Kube
from analyzer.service import promotion as flow
from analyzer.service.analysis import analyse
from analyzer.settings import Settings
from analyzer.sources.queries import Target
from tests.conftest import STEP
from tests.support.argo_objects import rollout
from tests.support.kube import cluster
from tests.support.service import Clock, make_analyzer

ROLLOUTS = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"
JUNIT_OK = {"name": "negative", "tests": 12, "failures": 0, "errors": 0, "skipped": 0, "failed_cases": []}
PIPELINE = Pipeline(stages=[
    Stage(name="V1", rollout=RolloutTarget(namespace="shop", name="checkout-v1"),
          checks=[CanaryJudgments(), RolloutHealthy()]),
    Stage(name="V3", rollout=RolloutTarget(namespace="shop", name="checkout-v3"),
          checks=[CanaryJudgments(), JUnitReport(), RolloutHealthy()]),
    Stage(name="V2", rollout=RolloutTarget(namespace="shop", name="checkout-v2"),
          checks=[CanaryJudgments(), Approvals(count=1), RolloutHealthy()]),
])


def image(n: int) -> str:
    return f"registry.example.com/shop/checkout@sha256:{n:064x}"


@pytest.fixture
def world(tmp_path, backfilled):
    with cluster(tmp_path) as k8s:
        for stage in PIPELINE.stages:
            assert stage.rollout is not None
            k8s.put(ROLLOUTS, rollout(name=stage.rollout.name, phase="Healthy", message="", pauseConditions=None,
                                      currentPodHash="0ld0", stableRS="0ld0"))
        settings = Settings(prometheus_url=backfilled.url, database_url=f"sqlite:///{tmp_path / 'ledger.db'}")
        # Nine stage entries a minute apart: the last look is at the end of the 30 backfilled steps, not past it
        # (where the data would be stale, and the look inconclusive).
        analyzer = make_analyzer(settings, Clock(backfilled.start + 21 * STEP + 5))
        promotions = flow.Promotions(analyzer.database, PIPELINE, kube=Kube(kubeconfig=str(k8s.kubeconfig)),
                                     clock=lambda: datetime.fromtimestamp(analyzer.clock(), UTC))
        yield k8s, analyzer, promotions, backfilled


def _spec_image(k8s, name: str) -> str:
    return str(k8s.obj("rollouts", "shop", name)["spec"]["template"]["spec"]["containers"][0]["image"])


def _canary(k8s, name: str, deployment) -> None:
    """The controller starts the canary: paused at its first step, with the backfilled data's hashes."""
    k8s.patch(f"{ROLLOUTS}/{name}", {"status": {"phase": "Paused", "message": "CanaryPauseStep",
                                                "currentPodHash": deployment.canary_hash,
                                                "stableRS": deployment.stable_hash}})


def _healthy(k8s, name: str, deployment) -> None:
    k8s.patch(f"{ROLLOUTS}/{name}", {"status": {"phase": "Healthy", "message": None, "pauseConditions": None,
                                                "currentPodHash": deployment.canary_hash,
                                                "stableRS": deployment.canary_hash}})


def _stage_run(world, candidate_id: str, stage: Stage, scenario: str, extra=None) -> str:
    """Promote into the stage, let the canary run, judge it as Argo would, add evidence, evaluate."""
    k8s, analyzer, p, backfilled = world
    assert stage.rollout is not None
    name = stage.rollout.name
    analyzer.clock.advance(60)  # each stage entry a minute later: older judgments predate the attempt
    attempt = flow.promote(p, candidate_id, stage.name, "alice")
    assert attempt.state == "running"
    candidate = flow.show_candidate(p, candidate_id)
    assert _spec_image(k8s, name) == candidate["artifacts"][0]["image"]  # the flow set the image (PUT)
    deployment = backfilled.deployments[f"shop-{scenario}"]
    _canary(k8s, name, deployment)
    assert flow.evaluate(p, attempt.id, "ci").verdict == "inconclusive"  # the canary runs; no judgment yet
    look = analyse(analyzer, "http", Target(namespace="shop", rollout=name, canary=deployment.canary_hash,
                                            stable=deployment.stable_hash))  # Argo's look; evaluate collects it
    for kind, payload, who in extra or []:
        flow.add_evidence(p, attempt.id, kind, payload, who)
    if look.judgment.verdict.value == "pass":
        _healthy(k8s, name, deployment)
    verdict = flow.evaluate(p, attempt.id, "ci").verdict
    judged = [e for e in flow.show_attempt(p, attempt.id)["evidence"] if e["kind"] == "judgment"]
    assert [e["payload"]["judgment_id"] for e in judged] == [look.record.id]
    return verdict


def test_walk_with_quarantine_in_v3_and_rollback_in_v2(world):
    k8s, _, p, _ = world
    v1, v3, v2 = PIPELINE.stages
    good = flow.register(p, [{"name": "checkout", "image": image(1)}], "ci", alias="1.0")
    assert _stage_run(world, good.id, v1, "healthy") == "pass"
    assert _stage_run(world, good.id, v3, "healthy", [("junit", JUNIT_OK, "ci")]) == "pass"
    assert _stage_run(world, good.id, v2, "healthy", [("approval", {"by": "bob"}, "bob")]) == "pass"
    assert flow.show_candidate(p, good.id)["state"] == "stable"

    regressed = flow.register(p, [{"name": "checkout", "image": image(2)}], "ci", alias="1.1")
    assert _stage_run(world, regressed.id, v1, "healthy") == "pass"
    assert _stage_run(world, regressed.id, v3, "errors", [("junit", JUNIT_OK, "ci")]) == "fail"
    [record] = flow.quarantine_records(p)
    assert record["candidate_id"] == regressed.id and record["stage"] == "V3"
    assert record["impact"]["traffic_weight"]["V3"] == 20  # the canary's weight when the flow last looked
    assert record["reason_code"] == "canary_analysis_failed"

    slow = flow.register(p, [{"name": "checkout", "image": image(3)}], "ci", alias="1.2")
    assert _stage_run(world, slow.id, v1, "healthy") == "pass"
    assert _stage_run(world, slow.id, v3, "healthy", [("junit", JUNIT_OK, "ci")]) == "pass"
    assert _stage_run(world, slow.id, v2, "latency", [("approval", {"by": "bob"}, "bob")]) == "fail"
    # V2 goes back to the stable candidate: the flow set its image on the V2 Rollout again.
    assert _spec_image(k8s, "checkout-v2") == image(1)
    status = flow.status(p)
    assert next(s for s in status["stages"] if s["stage"] == "V2")["current"] == good.id
    latest = flow.quarantine_records(p)[0]
    assert latest["candidate_id"] == slow.id and latest["impact"]["rolled_back_to"] == good.id
    assert flow.verify_audit(p).ok
    actions = [e["action"] for e in flow.audit_log(p, 1000)]
    assert actions.count("candidate.quarantined") == 2 and "stage.rolled_back" in actions
    [rollback_put] = [c for c in k8s.calls() if c[0] == "PUT"]  # the last request: the rollback's set-image
    assert rollback_put[1].endswith("/checkout-v2")
    assert rollback_put[3]["spec"]["template"]["spec"]["containers"][0]["image"] == image(1)


def test_judgments_of_other_pods_are_not_accepted_as_evidence(world):
    k8s, analyzer, p, backfilled = world
    c = flow.register(p, [{"name": "checkout", "image": image(9)}], "ci")
    attempt = flow.promote(p, c.id, "V1", "alice")
    _canary(k8s, "checkout-v1", backfilled.deployments["shop-healthy"])
    flow.evaluate(p, attempt.id, "ci")  # records the Rollout's state: canary pods of shop-healthy
    other = backfilled.deployments["shop-errors"]
    look = analyse(analyzer, "http", Target(namespace="shop", rollout="checkout-v1", canary=other.canary_hash,
                                            stable=other.stable_hash))
    with pytest.raises(flow.PromotionError, match="is about pods"):
        flow.add_judgment(p, attempt.id, look.record.id, "argo")
    wrong_rollout = analyse(analyzer, "http", Target(namespace="shop", rollout="checkout-v3",
                                                     canary=other.canary_hash, stable=other.stable_hash))
    with pytest.raises(flow.PromotionError, match="stage V1 runs shop/checkout-v1"):
        flow.add_judgment(p, attempt.id, wrong_rollout.record.id, "argo")


def test_dry_run_plans_without_touching_the_cluster(world):
    k8s, _, p, _ = world
    p.dry_run = True
    c = flow.register(p, [{"name": "checkout", "image": image(11)}], "ci")
    attempt = flow.promote(p, c.id, "V1", "alice")
    assert [x for x in k8s.calls() if x[0] != "GET"] == []
    evidence = flow.show_attempt(p, attempt.id)["evidence"]
    plan = next(e for e in evidence if e["kind"] == "rollout")["payload"]
    assert plan["dry_run"] is True and plan["set_image"] == [{"container": "checkout", "image": image(11)}]
