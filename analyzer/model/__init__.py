"""Pydantic models that cross module boundaries: measurements in (:mod:`.measurement`), policies
(:mod:`.policy`), results out (:mod:`.results`)."""

from analyzer.model.measurement import (
    ARTEFACT_SLACK,
    POD_SUM_SLACK,
    Count,
    HistogramMetric,
    HistogramPods,
    Measurement,
    MetricData,
    PodName,
    RatioArm,
    RatioMetric,
    RatioPods,
    Rows,
    fmt_le,
)
from analyzer.model.policy import (
    LATENCY_WARMUP_STEPS,
    Kind,
    MetricPolicy,
    Policy,
    Slo,
    default_metric_policy,
)
from analyzer.model.results import (
    Diagnostics,
    Estimate,
    Interval,
    Judgment,
    MetricResult,
    Samples,
    Verdict,
)

__all__ = [
    "ARTEFACT_SLACK",
    "LATENCY_WARMUP_STEPS",
    "POD_SUM_SLACK",
    "Count",
    "Diagnostics",
    "Estimate",
    "HistogramMetric",
    "HistogramPods",
    "Interval",
    "Judgment",
    "Kind",
    "Measurement",
    "MetricData",
    "MetricPolicy",
    "MetricResult",
    "PodName",
    "Policy",
    "RatioArm",
    "RatioMetric",
    "RatioPods",
    "Rows",
    "Samples",
    "Slo",
    "Verdict",
    "default_metric_policy",
    "fmt_le",
]
