"""The results: each metric's verdict with its evidence, and the judgment one look answers with."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from analyzer.model.base import Strict
from analyzer.model.policy import Kind


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Estimate(Strict):
    """Point estimates. ``canary``/``stable`` are rates for ratio metrics and quantiles (s) for latency."""

    ratio: float | None = Field(description="canary/stable ratio of event rates (or slow shares)")
    canary: float | None
    stable: float | None
    canary_rate: float | None = Field(default=None, description="share of events (or slow requests)")
    stable_rate: float | None = None


class Interval(Strict):
    """Anytime-valid bounds on the ratio: ``lower`` at the fail level, ``upper`` at the pass level."""

    lower: float | None
    upper: float | None


class Samples(Strict):
    canary_requests: float
    stable_requests: float
    canary_events: float
    stable_events: float
    steps: int = Field(description="steps used by the tests, after warm-up and calibration")


class Diagnostics(Strict):
    """Extra evidence that does not decide the verdict."""

    fixed_look_p_value: float | None = Field(
        default=None, description="exact conditional test on pooled counts; NOT corrected for looks"
    )
    threshold_seconds: float | None = Field(
        default=None, description="histograms: τ, the smallest bound at or above stable's quantile (reported)"
    )
    resolution: float | None = Field(default=None, description="histograms: τ / stable quantile - 1")
    tested_bounds: list[float] | None = Field(default=None, description="histograms: every bound tested, τ first")
    dispersion: float | None = Field(
        default=None, description="minute-to-minute variance over binomial variance applied to the last step (≥ 1)"
    )
    pod_sd: float | None = Field(
        default=None, description="sd of the pod term of log(canary/stable); None without per-pod data"
    )
    fail_boundary: float | None = Field(
        default=None,
        description="the version's ratio a fail must show it above (the pod term is in the fail test's null)",
    )
    pass_boundary: float | None = Field(
        default=None,
        description="the version's ratio a pass must show it below (the pod term is in the pass test's null)",
    )
    suggested_buckets: list[float] | None = None
    chi2_p_value: float | None = None
    quantile_ratio_interval: tuple[float, float] | None = Field(
        default=None, description="95 % bootstrap interval of canary/stable quantile (descriptive)"
    )
    slo_e_value: float | None = None
    notes: list[str] = Field(default_factory=list)


class MetricResult(Strict):
    name: str
    kind: Kind
    verdict: Verdict
    reason: str
    critical: bool
    dry_run: bool
    weight: float
    estimate: Estimate
    interval: Interval
    e_value: float | None = Field(
        default=None, description="largest fail e-value over all looks (evidence of a regression)"
    )
    e_threshold: float | None = Field(
        default=None, description="fail when e_value reaches this (1/α split over the tests)"
    )
    p_value: float | None = Field(default=None, description="anytime-valid p-value of the fail test, min(1, 1/e_value)")
    pass_e_value: float | None = Field(default=None, description="current e-value against 'ratio >= pass_ratio'")
    label: str | None = Field(default=None, description="kayenta judge: Pass, High, Low, Nodata")
    fail_step: int | None = Field(default=None, description="step at which the fail evidence crossed")
    samples: Samples
    diagnostics: Diagnostics = Field(default_factory=Diagnostics)


class Judgment(Strict):
    """The answer to one look. Serialises to the body the HTTP API returns."""

    verdict: Verdict
    score: float = Field(ge=0, le=100)
    judge: Literal["ours", "kayenta"] = "ours"
    steps: int
    metrics: list[MetricResult]
    reasons: list[str]
    input_digest: str = Field(description="sha256 of the measurement, step by step (sha256-steps: each metric's"
                              " skeleton and each per-step list's sha256 of its float64 counts); judgments recorded"
                              " before carry sha256: over its canonical JSON")
