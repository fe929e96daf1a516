"""A Rollout object read into the typed status that `get` shows and the gate acts on."""

from __future__ import annotations

from analyzer.rollouts import read_status
from tests.support.argo_objects import CANARY, NEW_IMAGE, STABLE, rollout


def test_paused_canary_at_the_first_pause():
    s = read_status(rollout())
    assert (s.namespace, s.name, s.strategy) == ("shop", "checkout", "canary")
    assert (s.phase, s.message) == ("Paused", "CanaryPauseStep")
    assert (s.current_step, s.steps, s.step_kind, s.set_weight) == (1, 6, "pause", 20)
    assert (s.stable_hash, s.canary_hash, s.has_canary) == (STABLE, CANARY, True)
    assert [c.reason for c in s.pause_conditions] == ["CanaryPauseStep"]
    assert s.background_analysis is not None and s.background_analysis.phase == "Running"
    assert s.step_analysis is None
    assert s.images == {"checkout": NEW_IMAGE}


def test_weights_steps_and_phases():
    assert read_status(rollout(currentStepIndex=4)).set_weight == 50
    assert read_status(rollout(currentStepIndex=6)).set_weight == 100
    assert read_status(rollout(abort=True, currentStepIndex=0)).set_weight == 0
    analysing = read_status(rollout(currentStepIndex=2, canary={"currentStepAnalysisRunStatus": {
        "name": "checkout-6b9c4d4f8-3-2", "status": "Inconclusive", "message": "count reached"}}))
    assert analysing.step_kind == "analysis"
    assert analysing.step_analysis is not None and analysing.step_analysis.phase == "Inconclusive"
    healthy = read_status(rollout(phase="Healthy", message="", currentPodHash=STABLE, pauseConditions=None))
    assert not healthy.has_canary
    stale = rollout()
    stale["metadata"]["generation"] = 4  # the controller has not seen the newest spec yet
    assert read_status(stale).phase == "Progressing"
