"""The policy: global error rates and sufficiency guards, and how each metric is judged."""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import Field, model_validator

from analyzer.errors import InputError
from analyzer.model.base import Strict


class Kind(StrEnum):
    RATIO = "ratio"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"  # per-pod values, canary pods against stable pods
    THRESHOLD = "threshold"  # per-pod values, the canary alone against an absolute limit (data: a gauge)


class Direction(StrEnum):
    """Gauges and thresholds: which way of the metric is worse."""

    HIGHER = "higher"  # e.g. CPU, memory, restarts, p99: more is worse
    LOWER = "lower"  # e.g. throughput, cache hit rate: less is worse


#: The data kind each policy kind judges.
DATA_KIND = {Kind.RATIO: Kind.RATIO, Kind.HISTOGRAM: Kind.HISTOGRAM, Kind.GAUGE: Kind.GAUGE, Kind.THRESHOLD: Kind.GAUGE}


class Slo(Strict):
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


class MetricPolicy(Strict):
    """How one metric is judged. Ratios compare event rates, histograms the shares of slow requests."""

    kind: Kind
    quantile: float = Field(default=0.95, gt=0, lt=1, description="histograms: the quantile watched")
    pass_ratio: float = Field(default=1.5, gt=1, description="largest canary/stable ratio still acceptable for a pass")
    pass_increase: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="a pass also when canary rate - stable rate is shown to be below this (absolute margin)",
    )
    pass_slowdown: float = Field(
        default=0.0,
        ge=0,
        description=(
            "histograms: a pass also when the canary's quantile is shown at most this much slower (relative),"
            " read at each tested bound as the slow-share ratio a slowdown of this size gives stable's buckets"
        ),
    )
    fail_ratio: float = Field(
        default=1.1, ge=1, description="canary/stable ratio beyond which a shown increase is a regression"
    )
    min_increase: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="optional: smallest absolute increase (canary rate - stable rate) worth a fail",
    )
    margin: float = Field(
        default=0.0, ge=0, description="histograms: the tested bounds centre on stable's quantile x (1 + margin)"
    )
    warmup_steps: int | None = Field(
        default=None, ge=0, description="steps left out at the start; default: the policy's warmup_steps"
    )
    direction: Direction = Field(default=Direction.HIGHER, description="gauges and thresholds: which way is worse")
    limit: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="thresholds: fail when the canary's values are shown beyond it (above, or below for lower)",
    )
    pass_limit: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="thresholds: pass when the canary's values are shown within it; default: limit",
    )
    bound: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="thresholds: the values lie in [0, bound] (e.g. 1 for a rate); larger values count as bound",
    )
    slo: Slo | None = None
    critical: bool = True
    weight: float = Field(default=1.0, gt=0)
    dry_run: bool = False

    @model_validator(mode="after")
    def _ratios(self) -> MetricPolicy:
        if self.fail_ratio >= self.pass_ratio:
            raise ValueError(f"fail_ratio ({self.fail_ratio:g}) must be below pass_ratio ({self.pass_ratio:g})")
        if self.kind is Kind.THRESHOLD:
            self._check_threshold()
        elif self.limit is not None or self.pass_limit is not None or self.bound is not None:
            raise ValueError(f"limit, pass_limit and bound are for kind threshold, not {self.kind.value}")
        if self.kind in (Kind.GAUGE, Kind.THRESHOLD) and self.slo is not None:
            raise ValueError(f"a {self.kind.value} has no slo (use a metric of kind threshold for an absolute limit)")
        return self

    def _check_threshold(self) -> None:
        if self.limit is None or self.bound is None:
            raise ValueError("a threshold needs limit and bound (the values lie in [0, bound])")
        passing = self.threshold_pass_limit
        for name, value in (("limit", self.limit), ("pass_limit", passing)):
            if value > self.bound:
                raise ValueError(f"{name} ({value:g}) must not exceed bound ({self.bound:g})")
        higher = self.direction is Direction.HIGHER
        # Like fail_ratio < pass_ratio: the fail limit is the stricter one (a pass at pass_limit is looser).
        if (passing < self.limit) if higher else (passing > self.limit):
            side = "below" if higher else "above"
            raise ValueError(f"pass_limit ({passing:g}) must not be {side} limit ({self.limit:g})")
        if passing == (0.0 if higher else self.bound):
            raise ValueError(
                f"pass_limit {passing:g} can never be shown {'below' if higher else 'above'}: the threshold could"
                " never pass; set pass_limit "
                + ("above 0 (e.g. restarts: 0.1 per pod and step)" if higher else "below bound")
            )

    @property
    def threshold_pass_limit(self) -> float:
        """Thresholds: the limit a pass is shown against (pass_limit, else limit)."""
        if self.pass_limit is not None:
            return self.pass_limit
        return self.limit if self.limit is not None else 0.0


#: Latency warms up longer than errors: new pods' caches and JITs are slow for their first minutes.
LATENCY_WARMUP_STEPS = 3


#: Gauges: canary pods shown 20 % above stable's is a regression; a pass needs them shown below +30 %.
GAUGE_FAIL_RATIO, GAUGE_PASS_RATIO = 1.2, 1.3


def default_metric_policy(kind: Kind) -> MetricPolicy:
    """Runbook defaults: error rate 5 % critical / 3 % warning; p95 250 ms / 200 ms; gauges ±20 %/30 %."""
    if kind in (Kind.GAUGE, Kind.THRESHOLD):  # a threshold needs its limit: data without a policy is compared
        return MetricPolicy(kind=Kind.GAUGE, fail_ratio=GAUGE_FAIL_RATIO, pass_ratio=GAUGE_PASS_RATIO)
    if kind is Kind.RATIO:
        return MetricPolicy(kind=kind, pass_increase=0.002, slo=Slo(limit=0.05, warning=0.03))
    return MetricPolicy(
        kind=kind,
        pass_increase=0.01,
        pass_slowdown=0.2,
        warmup_steps=LATENCY_WARMUP_STEPS,
        slo=Slo(limit=0.25, warning=0.2),
    )


def _default_metrics() -> dict[str, MetricPolicy]:
    return {
        "error-rate": default_metric_policy(Kind.RATIO),
        "latency": default_metric_policy(Kind.HISTOGRAM),
    }


class Policy(Strict):
    """Global error rates, sufficiency guards and the per-metric policies."""

    alpha_fail: float = Field(default=0.01, gt=0, lt=0.5, description="false-fail rate over all looks and metrics")
    alpha_pass: float = Field(default=0.05, gt=0, lt=0.5, description="false-pass rate per metric")
    min_canary_requests: float = Field(default=200, ge=0)
    min_expected_events: float = Field(default=10, ge=0)
    min_duration_seconds: float = Field(default=300, ge=0)
    warmup_steps: int = Field(default=1, ge=0, description="steps left out at the start, unless a metric sets its own")
    prior_scale: float = Field(default=math.log(2), gt=0, description="sd of the normal mixing prior on log(ratio)")
    metrics: dict[str, MetricPolicy] = Field(default_factory=_default_metrics)

    def for_metric(self, name: str, kind: Kind) -> MetricPolicy:
        """The policy named ``name``, else the defaults for its kind.

        Raises :class:`InputError` when the policy gives the metric another kind than the data has (a
        threshold judges gauge data).
        """
        named = self.metrics.get(name)
        if named is None:
            return default_metric_policy(kind)
        if DATA_KIND[named.kind] is not kind:
            raise InputError(
                f"metric {name!r} is a {kind.value} in the measurement but a {named.kind.value} in the policy"
            )
        return named
