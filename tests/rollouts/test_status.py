"""Rollout, Experiment and AnalysisRun objects read into the typed statuses that `get` and `list` show."""

from __future__ import annotations

from analyzer.rollouts import read_status
from analyzer.rollouts.status import read_analysis_run, read_experiment
from tests.support.argo_objects import (
    BASELINE,
    CANARY,
    CANDIDATE,
    NEW_IMAGE,
    STABLE,
    analysis_run,
    experiment,
    rollout,
)


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


def test_an_experiment_reads_its_templates_and_analyses_from_its_own_status():
    s = read_experiment(experiment())
    assert (s.namespace, s.name, s.phase, s.duration) == ("shop", f"checkout-{CANARY}-3-0", "Running", "30m")
    assert [(t.name, t.replicas, t.ready_replicas, t.pod_template_hash) for t in s.templates] == [
        ("baseline", 3, 3, BASELINE), ("canary", 3, 2, CANDIDATE)]
    assert s.templates[1].images == [NEW_IMAGE]
    assert [(a.name, a.analysis_run, a.phase) for a in s.analyses] == [
        ("canary-judge", f"checkout-{CANARY}-3-0-canary-judge", "Running")]
    assert not s.completed and not s.terminated
    fresh = experiment()
    del fresh["status"]  # just created: the controller has written nothing yet
    pending = read_experiment(fresh)
    assert pending.phase == "Pending" and {t.status for t in pending.templates} == {"Pending"}
    assert read_experiment(experiment(phase="Successful")).completed


def test_an_analysis_run_in_one_line():
    run = analysis_run("shop", "checkout-run-1")
    run["metadata"]["ownerReferences"] = [{"kind": "Rollout", "name": "checkout", "controller": True}]
    run["status"]["metricResults"] = [{"name": "canary-judge", "phase": "Running", "count": 3, "inconclusive": 3,
                                       "measurements": [{"phase": "Inconclusive"}] * 3}]
    s = read_analysis_run(run)
    assert (s.name, s.phase, s.owner) == ("checkout-run-1", "Running", "rollout/checkout")
    assert s.metrics == [{"name": "canary-judge", "phase": "Running", "count": 3, "inconclusive": 3}]
