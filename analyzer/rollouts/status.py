"""Argo objects read into typed statuses: what `kubectl argo rollouts get` and `list` show, as data.

Rollouts (:func:`read_status`), Experiments (:func:`read_experiment`: each template's ReplicaSet and
each analysis, from the Experiment's own status, so one GET shows it all) and AnalysisRuns
(:func:`read_analysis_run`).

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


class ExperimentTemplate(BaseModel):
    """One ReplicaSet of an Experiment: what it asked for and how it stands (status.templateStatuses)."""

    name: str
    replicas: int = Field(description="spec.templates[].replicas (default 1)")
    ready_replicas: int = 0
    available_replicas: int = 0
    status: str = Field(description="Progressing, Running, Successful, Failed, Error")
    message: str = ""
    pod_template_hash: str | None = None
    images: list[str] = Field(default_factory=list)


class ExperimentAnalysis(BaseModel):
    """One analysis of an Experiment and the AnalysisRun that carries it (status.analysisRuns)."""

    name: str
    analysis_run: str | None = None
    phase: str = "Pending"
    message: str = ""


class ExperimentStatus(BaseModel):
    """An Experiment read into what `kubectl argo rollouts get experiment` shows, as data."""

    namespace: str
    name: str
    phase: str = Field(description="Pending, Running, Successful, Failed, Error, Inconclusive")
    message: str = ""
    created: str | None = Field(description="metadata.creationTimestamp (RFC 3339)")
    duration: str | None = Field(description="spec.duration as written (none: until the analyses end)")
    available_at: str | None = Field(description="when every template became available: the duration starts")
    terminated: bool = Field(description="spec.terminate was set")
    templates: list[ExperimentTemplate]
    analyses: list[ExperimentAnalysis]

    @property
    def completed(self) -> bool:
        return self.phase in ("Successful", "Failed", "Error", "Inconclusive")


def read_experiment(obj: dict[str, Any]) -> ExperimentStatus:
    """The typed status of an Experiment object as the API returns it."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    by_name = {t.get("name"): t for t in status.get("templateStatuses") or []}
    templates = []
    for template in spec.get("templates") or []:
        seen = by_name.get(template.get("name")) or {}
        containers = ((template.get("template") or {}).get("spec") or {}).get("containers") or []
        templates.append(ExperimentTemplate(
            name=template.get("name", ""), replicas=template.get("replicas", 1),
            ready_replicas=seen.get("readyReplicas") or 0, available_replicas=seen.get("availableReplicas") or 0,
            status=seen.get("status") or "Pending", message=seen.get("message") or "",
            pod_template_hash=seen.get("podTemplateHash"), images=[c.get("image", "") for c in containers],
        ))
    runs = {r.get("name"): r for r in status.get("analysisRuns") or []}
    analyses = [
        ExperimentAnalysis(name=a.get("name", ""), analysis_run=(runs.get(a.get("name")) or {}).get("analysisRun"),
                           phase=(runs.get(a.get("name")) or {}).get("phase") or "Pending",
                           message=(runs.get(a.get("name")) or {}).get("message") or "")
        for a in spec.get("analyses") or []
    ]
    return ExperimentStatus(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), phase=status.get("phase") or "Pending",
        message=status.get("message") or "", created=meta.get("creationTimestamp"),
        duration=None if spec.get("duration") in (None, "") else str(spec["duration"]),
        available_at=status.get("availableAt"), terminated=bool(spec.get("terminate")),
        templates=templates, analyses=analyses,
    )


class AnalysisRunStatus(BaseModel):
    """An AnalysisRun in one line: its phase, what started it, and each metric's tally."""

    namespace: str
    name: str
    phase: str = Field(description="Pending, Running, Successful, Failed, Error, Inconclusive")
    message: str = ""
    created: str | None = None
    owner: str | None = Field(description="kind/name of the Rollout or Experiment that created it")
    terminated: bool = False
    metrics: list[dict[str, Any]] = Field(description="status.metricResults: name, phase, count, failed, …")


def read_analysis_run(obj: dict[str, Any]) -> AnalysisRunStatus:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    owners = meta.get("ownerReferences") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    return AnalysisRunStatus(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), phase=status.get("phase") or "Pending",
        message=status.get("message") or "", created=meta.get("creationTimestamp"),
        owner=f"{owner.get('kind', '').lower()}/{owner.get('name', '')}" if owner else None,
        terminated=bool(spec.get("terminate")),
        metrics=[{k: v for k, v in m.items() if k != "measurements"} for m in status.get("metricResults") or []],
    )
