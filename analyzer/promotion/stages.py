"""Stages and their gate policies, from ``stages.yaml`` (V1 → V3 → V2 by default).

A gate policy lists checks; each check is one kind with its parameters. The policy's hash (sha256
of its canonical JSON) is recorded with every evaluation, so a verdict can be recomputed and its
policy version proven.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analyzer.errors import InputError, describe


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    required: bool = True


class CanaryJudgments(_Check):
    """Canary judgments of this candidate's pods in the stage, newer than the attempt: the last must pass."""

    kind: Literal["canary"] = "canary"
    min_judgments: int = Field(default=1, ge=1)
    max_age_seconds: int = Field(default=3600, ge=60)


class JUnitReport(_Check):
    """An uploaded JUnit XML report (e.g. the V3 negative tests): any failure or error fails."""

    kind: Literal["junit"] = "junit"
    suite: str | None = Field(default=None, description="only reports whose name matches")


class Compatibility(_Check):
    """An uploaded compatibility report ``{"compatible": bool, "breaking": [...]}``."""

    kind: Literal["compat"] = "compat"


class Soak(_Check):
    """The candidate has run in the stage at least this long since the attempt started."""

    kind: Literal["soak"] = "soak"
    seconds: int = Field(ge=0)


class Approvals(_Check):
    """Manual approvals by distinct people other than the requester."""

    kind: Literal["approvals"] = "approvals"
    count: int = Field(default=1, ge=1)


class SloCheck(_Check):
    """Absolute SLOs of the pods serving in the stage, read from Prometheus (runbook defaults)."""

    kind: Literal["slo"] = "slo"
    error_rate: float = Field(default=0.05, gt=0, le=1)
    p95_seconds: float = Field(default=0.25, gt=0)


class RolloutHealthy(_Check):
    """The stage's Rollout, followed by the flow: aborted or a failed step analysis fails; Healthy on the
    candidate's images passes; anything else (paused, progressing) waits."""

    kind: Literal["rollout"] = "rollout"


class Window(_Check):
    """Promotion allowed only on these UTC weekdays (0 = Monday) and hours [start, end)."""

    kind: Literal["window"] = "window"
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    start_hour: int = Field(default=8, ge=0, le=23)
    end_hour: int = Field(default=18, ge=1, le=24)


Check = Annotated[
    CanaryJudgments | JUnitReport | Compatibility | Soak | Approvals | Window | RolloutHealthy | SloCheck,
    Field(discriminator="kind"),
]


class RolloutTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    namespace: str
    name: str


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]{0,39}$")
    rollout: RolloutTarget | None = None
    checks: list[Check] = Field(default_factory=list)

    def policy_hash(self) -> str:
        canonical = json.dumps([c.model_dump(mode="json") for c in self.checks], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


class Pipeline(BaseModel):
    """The ordered stages; a candidate enters them one after another."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    stages: list[Stage] = Field(min_length=1)
    forced_needs_second_approver: bool = True

    @model_validator(mode="after")
    def _unique(self) -> Pipeline:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique: {names}")
        return self

    def index(self, name: str) -> int:
        for i, stage in enumerate(self.stages):
            if stage.name.lower() == name.lower():
                return i
        raise InputError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in self.stages)}")

    def stage(self, name: str) -> Stage:
        return self.stages[self.index(name)]


DEFAULT = Pipeline(
    stages=[
        Stage(name="V1", checks=[CanaryJudgments(), Soak(seconds=0)]),
        Stage(name="V3", checks=[CanaryJudgments(), JUnitReport(), Compatibility(required=False), Soak(seconds=900)]),
        Stage(name="V2", checks=[CanaryJudgments(), Approvals(count=1), Soak(seconds=1800)]),
    ]
)


def load_pipeline(path: Path | None) -> Pipeline:
    """The stages of ``stages.yaml``, or the default V1 → V3 → V2."""
    if path is None:
        return DEFAULT
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"{path}: {error}") from None
    try:
        return Pipeline.model_validate(data)
    except ValidationError as error:
        raise InputError(describe(error, str(path))) from None
