"""A Rollout object read into a typed status: what `kubectl argo rollouts get` shows, as data.

Phase and message are the controller's (``status.phase``/``status.message``) when it has observed
the current generation; otherwise the rollout is reported ``Progressing`` ("waiting for the
controller"), as Argo's own ``GetRolloutPhase`` advises. The set weight of a canary is the last
``setWeight`` at or before the current step (100 once every step is done, 0 after an abort).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AnalysisRunRef(BaseModel):
    name: str
    phase: str
    message: str | None = None


class PauseCondition(BaseModel):
    reason: str
    since: str | None = None


class RolloutStatus(BaseModel):
    namespace: str
    name: str
    strategy: str = Field(description="canary or blueGreen")
    phase: str = Field(description="Healthy, Progressing, Paused or Degraded")
    message: str = ""
    paused: bool = Field(description="spec.paused: a user pause")
    aborted: bool
    current_step: int | None = Field(description="status.currentStepIndex (canary)")
    steps: int = Field(description="number of canary steps")
    step_kind: str | None = Field(description="setWeight, pause, analysis, experiment, … of the current step")
    set_weight: int | None = Field(description="canary traffic weight the steps set, percent")
    actual_weight: int | None = Field(description="status.canary.weights.canary.weight with traffic routing")
    stable_hash: str | None
    canary_hash: str | None
    pause_conditions: list[PauseCondition]
    step_analysis: AnalysisRunRef | None
    background_analysis: AnalysisRunRef | None
    images: dict[str, str] = Field(description="container -> image of the desired pod template")
    replicas: int | None = None
    ready_replicas: int | None = None

    @property
    def has_canary(self) -> bool:
        """A canary is in progress: a desired pod template that is not the stable one."""
        return bool(self.canary_hash and self.stable_hash and self.canary_hash != self.stable_hash)


def _step_kind(step: dict[str, Any] | None) -> str | None:
    return next(iter(step), None) if step else None


def _set_weight(steps: list[dict[str, Any]], index: int | None, aborted: bool) -> int | None:
    if aborted:
        return 0
    if index is None:
        return None
    if index >= len(steps):
        return 100
    weights = [int(s["setWeight"]) for s in steps[: index + 1] if "setWeight" in s]
    return weights[-1] if weights else 0


def _run(ref: dict[str, Any] | None) -> AnalysisRunRef | None:
    if not ref or not ref.get("name"):
        return None
    return AnalysisRunRef(name=ref["name"], phase=ref.get("status") or "Pending", message=ref.get("message"))


def _phase(obj: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    observed = str(status.get("observedGeneration", ""))
    generation = str(obj.get("metadata", {}).get("generation", ""))
    if status.get("phase") and (not generation or observed == generation):
        return str(status["phase"]), str(status.get("message") or "")
    return "Progressing", "waiting for the controller to observe the current generation"


def read_status(obj: dict[str, Any]) -> RolloutStatus:
    """The typed status of a Rollout object as the API returns it."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    strategy = "blueGreen" if "blueGreen" in spec.get("strategy", {}) else "canary"
    steps: list[dict[str, Any]] = spec.get("strategy", {}).get("canary", {}).get("steps") or []
    index = status.get("currentStepIndex")
    aborted = bool(status.get("abort"))
    canary_status = status.get("canary") or {}
    weights = canary_status.get("weights") or {}
    containers = spec.get("template", {}).get("spec", {}).get("containers") or []
    phase, message = _phase(obj, status)
    return RolloutStatus(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        strategy=strategy,
        phase=phase,
        message=message,
        paused=bool(spec.get("paused")),
        aborted=aborted,
        current_step=index if strategy == "canary" else None,
        steps=len(steps),
        step_kind=_step_kind(steps[index]) if isinstance(index, int) and index < len(steps) else None,
        set_weight=_set_weight(steps, index, aborted) if strategy == "canary" else None,
        actual_weight=(weights.get("canary") or {}).get("weight"),
        stable_hash=status.get("stableRS"),
        canary_hash=status.get("currentPodHash"),
        pause_conditions=[
            PauseCondition(reason=c.get("reason", ""), since=c.get("startTime"))
            for c in status.get("pauseConditions") or []
        ],
        step_analysis=_run(canary_status.get("currentStepAnalysisRunStatus")),
        background_analysis=_run(canary_status.get("currentBackgroundAnalysisRunStatus")),
        images={c.get("name", ""): c.get("image", "") for c in containers},
        replicas=status.get("replicas"),
        ready_replicas=status.get("readyReplicas"),
    )
