"""Pydantic models that cross module boundaries: measurements in, policies, results out.

A *measurement* holds per-step increments for canary and stable, exactly as PromQL
``increase(x[step])`` returns them: one value per step and arm. Ratio metrics carry ``total``
(requests) and ``events`` (errors); histogram metrics carry cumulative bucket counts per ``le``
bound, ending with ``+Inf`` (= requests), like a Prometheus classic histogram. Counts may be
non-integer (``increase`` extrapolates) but must be finite and non-negative.

Validation errors name the metric, the arm, the field and the step (0-based), so that a
broken exporter is found from the message alone.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from analyzer.errors import InputError

#: Relative slack for checks between two counters that ``increase()`` extrapolates separately.
COUNT_TOLERANCE = 1e-6

Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _exceeds(a: float, b: float) -> bool:
    """True when ``a > b`` beyond the extrapolation tolerance."""
    return a > b + COUNT_TOLERANCE * max(1.0, abs(b))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatioArm(_Strict):
    """One arm of a ratio metric: requests and events (e.g. errors) per step."""

    total: list[Count] = Field(description="requests per step")
    events: list[Count] = Field(description="events (e.g. errors) per step; never more than total")

    @model_validator(mode="after")
    def _events_within_total(self) -> RatioArm:
        if len(self.total) != len(self.events):
            raise ValueError(f"total has {len(self.total)} steps but events has {len(self.events)}; they must match")
        for step, (total, events) in enumerate(zip(self.total, self.events, strict=True)):
            if _exceeds(events, total):
                raise ValueError(f"step {step}: events ({events:g}) exceed total ({total:g})")
        return self


class RatioMetric(_Strict):
    """Events out of requests, e.g. 5xx responses out of all responses."""

    kind: Literal["ratio"]
    canary: RatioArm
    stable: RatioArm

    @model_validator(mode="after")
    def _same_steps(self) -> RatioMetric:
        if len(self.canary.total) != len(self.stable.total):
            raise ValueError(
                f"canary has {len(self.canary.total)} steps but stable has {len(self.stable.total)};"
                " both arms must cover the same steps"
            )
        return self

    @property
    def steps(self) -> int:
        return len(self.canary.total)


def fmt_le(bound: float) -> str:
    """A bucket bound as Prometheus writes it."""
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def _parse_le(value: Any) -> float:
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in {"+inf", "inf"}:
            return math.inf
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"bucket bound {value!r} is not a number or '+Inf'") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"bucket bound {value!r} is not a number or '+Inf'")
    number = float(value)
    if math.isnan(number) or number == -math.inf:
        raise ValueError(f"bucket bound {value!r} is not allowed")
    return number


class HistogramMetric(_Strict):
    """Cumulative bucket counts per step, as Prometheus classic histograms store them."""

    kind: Literal["histogram"]
    le: list[float] = Field(description="bucket upper bounds, increasing, the last one '+Inf'")
    canary: list[list[Count]] = Field(description="per step, cumulative counts for each le")
    stable: list[list[Count]] = Field(description="per step, cumulative counts for each le")

    @field_validator("le", mode="before")
    @classmethod
    def _parse_bounds(cls, value: Any) -> list[float]:
        if not isinstance(value, list):
            raise ValueError("le must be a list of bucket bounds")
        return [_parse_le(v) for v in value]

    @field_serializer("le")
    def _dump_bounds(self, le: list[float]) -> list[float | str]:
        return ["+Inf" if math.isinf(b) else b for b in le]

    @model_validator(mode="after")
    def _check_buckets(self) -> HistogramMetric:
        le = self.le
        if len(le) < 2:
            raise ValueError("le needs at least one finite bound and '+Inf'")
        if not math.isinf(le[-1]):
            raise ValueError("le must end with '+Inf' (the bucket that counts every request)")
        for i in range(1, len(le)):
            if not le[i] > le[i - 1]:
                raise ValueError(f"le must be strictly increasing: {le[i - 1]:g} then {le[i]:g}")
        if len(self.canary) != len(self.stable):
            raise ValueError(
                f"canary has {len(self.canary)} steps but stable has {len(self.stable)};"
                " both arms must cover the same steps"
            )
        for arm, rows in (("canary", self.canary), ("stable", self.stable)):
            for step, row in enumerate(rows):
                if len(row) != len(le):
                    raise ValueError(f"{arm}: step {step}: {len(row)} bucket counts for {len(le)} le bounds")
            if not rows:
                continue
            counts = np.asarray(rows, dtype=np.float64)  # vectorised: this runs on every look
            lower, upper = counts[:, :-1], counts[:, 1:]
            broken = np.argwhere(lower > upper + COUNT_TOLERANCE * np.maximum(1.0, np.abs(upper)))
            if broken.size:
                step, j = (int(v) for v in broken[0])
                raise ValueError(
                    f"{arm}: step {step}: buckets not cumulative: le={fmt_le(le[j])} has"
                    f" {rows[step][j]:g} but le={fmt_le(le[j + 1])} has {rows[step][j + 1]:g}"
                )
        return self

    @property
    def steps(self) -> int:
        return len(self.canary)


MetricData = Annotated[RatioMetric | HistogramMetric, Field(discriminator="kind")]


class Measurement(_Strict):
    """Canary and stable per-step increments for one or more metrics over the same window."""

    step_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False, description="length of a step")
    metrics: dict[str, MetricData] = Field(
        description="by name; a metric the policy names but the data lacks is judged inconclusive (no data)"
    )

    def head(self, steps: int) -> Measurement:
        """The first ``steps`` steps: what an Argo look at that time would have seen."""
        data = self.model_dump(mode="json")
        for metric in data["metrics"].values():
            if metric["kind"] == "ratio":
                for arm in ("canary", "stable"):
                    metric[arm] = {key: values[:steps] for key, values in metric[arm].items()}
            else:
                metric["canary"], metric["stable"] = metric["canary"][:steps], metric["stable"][:steps]
        return Measurement.model_validate(data)

    @field_validator("metrics")
    @classmethod
    def _names(cls, metrics: dict[str, MetricData]) -> dict[str, MetricData]:
        for name in metrics:
            if not name or len(name) > 63 or not all(c.isalnum() or c in "-_." for c in name):
                raise ValueError(f"metric name {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
        return metrics


# --------------------------------------------------------------------------------------------
# Policy


class Kind(StrEnum):
    RATIO = "ratio"
    HISTOGRAM = "histogram"


class Slo(_Strict):
    """An absolute limit on the canary: error rate for ratios, the quantile in seconds for histograms.

    ``limit`` fails the metric when breached with confidence; ``warning`` only adds a reason.
    """

    limit: float = Field(gt=0, allow_inf_nan=False)
    warning: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _order(self) -> Slo:
        if self.warning is not None and self.warning > self.limit:
            raise ValueError(f"warning ({self.warning:g}) must not exceed limit ({self.limit:g})")
        return self


class MetricPolicy(_Strict):
    """How one metric is judged. Ratios compare event rates, histograms the share of slow requests."""

    kind: Kind
    quantile: float = Field(default=0.95, gt=0, lt=1, description="histograms: the quantile watched")
    pass_ratio: float = Field(default=1.5, gt=1, description="largest canary/stable ratio still acceptable for a pass")
    fail_ratio: float = Field(
        default=1.0, ge=1, description="canary/stable ratio beyond which a shown increase is a regression"
    )
    min_increase: float = Field(
        default=0.001,
        ge=0,
        lt=1,
        description="smallest absolute increase (canary rate - stable rate) worth a fail",
    )
    margin: float = Field(
        default=0.0, ge=0, description="histograms: slow means above stable's quantile x (1 + margin)"
    )
    max_resolution: float = Field(
        default=0.5,
        gt=0,
        description="histograms: the coarsest resolvable slowdown before the answer is 'resolution'",
    )
    slo: Slo | None = None
    critical: bool = True
    weight: float = Field(default=1.0, gt=0)
    dry_run: bool = False

    @model_validator(mode="after")
    def _ratios(self) -> MetricPolicy:
        if self.fail_ratio >= self.pass_ratio:
            raise ValueError(f"fail_ratio ({self.fail_ratio:g}) must be below pass_ratio ({self.pass_ratio:g})")
        return self


def default_metric_policy(kind: Kind) -> MetricPolicy:
    """Runbook defaults: error rate 5 % critical / 3 % warning; p95 250 ms / 200 ms."""
    if kind is Kind.RATIO:
        return MetricPolicy(kind=kind, min_increase=0.001, slo=Slo(limit=0.05, warning=0.03))
    return MetricPolicy(kind=kind, min_increase=0.01, slo=Slo(limit=0.25, warning=0.2))


def _default_metrics() -> dict[str, MetricPolicy]:
    return {
        "error-rate": default_metric_policy(Kind.RATIO),
        "latency": default_metric_policy(Kind.HISTOGRAM),
    }


class Policy(_Strict):
    """Global error rates, sufficiency guards and the per-metric policies."""

    alpha_fail: float = Field(default=0.01, gt=0, lt=0.5, description="false-fail rate over all looks and metrics")
    alpha_pass: float = Field(default=0.05, gt=0, lt=0.5, description="false-pass rate per metric")
    min_canary_requests: float = Field(default=200, ge=0)
    min_expected_events: float = Field(default=10, ge=0)
    min_duration_seconds: float = Field(default=300, ge=0)
    warmup_steps: int = Field(default=1, ge=0, description="steps left out at the start of the canary")
    prior_scale: float = Field(default=math.log(2), gt=0, description="sd of the normal mixing prior on log(ratio)")
    metrics: dict[str, MetricPolicy] = Field(default_factory=_default_metrics)

    def for_metric(self, name: str, kind: Kind) -> MetricPolicy:
        """The policy named ``name``, else the defaults for its kind.

        Raises :class:`InputError` when the policy gives the metric another kind than the data has.
        """
        named = self.metrics.get(name)
        if named is None:
            return default_metric_policy(kind)
        if named.kind is not kind:
            raise InputError(
                f"metric {name!r} is a {kind.value} in the measurement but a {named.kind.value} in the policy"
            )
        return named


# --------------------------------------------------------------------------------------------
# Results


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Estimate(_Strict):
    """Point estimates. ``canary``/``stable`` are rates for ratio metrics and quantiles (s) for latency."""

    ratio: float | None = Field(description="canary/stable ratio of event rates (or slow shares)")
    canary: float | None
    stable: float | None
    canary_rate: float | None = Field(default=None, description="share of events (or slow requests)")
    stable_rate: float | None = None


class Interval(_Strict):
    """Anytime-valid bounds on the ratio: ``lower`` at the fail level, ``upper`` at the pass level."""

    lower: float | None
    upper: float | None


class Samples(_Strict):
    canary_requests: float
    stable_requests: float
    canary_events: float
    stable_events: float
    steps: int = Field(description="steps used by the tests, after warm-up and calibration")


class Diagnostics(_Strict):
    """Extra evidence that does not decide the verdict."""

    fixed_look_p_value: float | None = Field(
        default=None, description="exact conditional test on pooled counts; NOT corrected for looks"
    )
    threshold_seconds: float | None = Field(default=None, description="histograms: the slow bound τ")
    resolution: float | None = Field(default=None, description="histograms: τ / stable quantile - 1")
    suggested_buckets: list[float] | None = None
    chi2_p_value: float | None = None
    quantile_ratio_interval: tuple[float, float] | None = Field(
        default=None, description="95 % bootstrap interval of canary/stable quantile (descriptive)"
    )
    slo_e_value: float | None = None
    notes: list[str] = Field(default_factory=list)


class MetricResult(_Strict):
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


class Judgment(_Strict):
    """The answer to one look. Serialises to the body the HTTP API returns."""

    verdict: Verdict
    score: float = Field(ge=0, le=100)
    judge: Literal["ours", "kayenta"] = "ours"
    steps: int
    metrics: list[MetricResult]
    reasons: list[str]
    input_digest: str = Field(description="sha256 of the measurement, canonical JSON")
