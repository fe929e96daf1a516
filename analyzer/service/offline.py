"""Offline use cases: judge a file, replay a simulated canary look by look."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from analyzer.config import load_policy
from analyzer.judging import judge
from analyzer.model import Judgment, Measurement, Policy
from analyzer.sources.file import load_measurement
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate


class JudgeName(StrEnum):
    OURS = "ours"
    KAYENTA = "kayenta"


def run_judge(measurement: Measurement, policy: Policy, judge_name: JudgeName = JudgeName.OURS) -> Judgment:
    if judge_name is JudgeName.KAYENTA:
        from analyzer.judging import judge_kayenta  # scipy.stats: only for this judge

        return judge_kayenta(measurement, policy)
    return judge(measurement, policy, descriptive=True)  # offline: every diagnostic, decisive or not


def judge_file(path: str, profile: str | None, judge_name: JudgeName = JudgeName.OURS) -> Judgment:
    """Load a measurement file and a profile, and judge."""
    policy = load_policy(profile)
    return run_judge(load_measurement(path), policy, judge_name)


class Regression(StrEnum):
    ERRORS = "errors"
    LATENCY = "latency"
    NONE = "none"


def demo_scenario(regression: Regression, steps: int) -> Scenario:
    """10 canary req/s beside 90 stable req/s, 1 % errors, p95 ≈ 180 ms; the regression starts at step 5."""
    base = Scenario(
        steps=steps,
        rps=100.0,
        canary_share=0.1,
        latency=Latency(median=0.08, sigma=0.5),
        buckets=FINE_BUCKETS,
        onset_step=5,
    )
    if regression is Regression.ERRORS:
        return Scenario(**{**base.__dict__, "error_ratio": 3.0})
    if regression is Regression.LATENCY:
        return Scenario(**{**base.__dict__, "latency_scale": 1.5})
    return base


@dataclass(frozen=True)
class Look:
    step: int
    judgment: Judgment


def replay(measurement: Measurement, policy: Policy, judge_name: JudgeName = JudgeName.OURS) -> Iterator[Look]:
    """Judge every prefix of a measurement, as Argo's looks would, until a pass or a fail."""
    steps = max(m.steps for m in measurement.metrics.values())
    for step in range(1, steps + 1):
        judgment = run_judge(measurement.head(step), policy, judge_name)
        yield Look(step, judgment)
        if judgment.verdict.value != "inconclusive":
            return


def demo_looks(regression: Regression, steps: int, seed: int, policy: Policy | None = None) -> Iterator[Look]:
    return replay(simulate(demo_scenario(regression, steps), seed), policy or Policy())
