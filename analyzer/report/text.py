"""Shared wording for renderers: numbers formatted for people."""

from __future__ import annotations

import math

from analyzer.model import Judgment, Kind, MetricResult

#: What the ratio column means, per kind of metric: a ratio of rates, or of slow shares for latency.
RATIO_MEANING = {
    Kind.RATIO: "canary ÷ stable event rate",
    Kind.HISTOGRAM: "canary ÷ stable share of requests slower than the quantile's bound (not a ratio of quantiles)",
    Kind.GAUGE: "canary ÷ stable pods' geometric mean (stable ÷ canary when lower is worse)",
}


def number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}g}"


def e_value(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if value < 1e6 else f"{value:.1e}"


def arm_values(result: MetricResult) -> tuple[str, str]:
    """Canary and stable as shown: error rate in percent, latency quantile in seconds."""
    est = result.estimate
    if result.kind is Kind.RATIO and result.label is None:
        pct = [f"{v * 100:.3g} %" if v is not None else "–" for v in (est.canary, est.stable)]
        return pct[0], pct[1]
    if result.kind in (Kind.RATIO, Kind.GAUGE, Kind.THRESHOLD):  # gauges: in the metric's own units
        return number(est.canary), number(est.stable)
    return tuple(f"{number(v)} s" if v is not None else "–" for v in (est.canary, est.stable))  # type: ignore[return-value]


def interval(result: MetricResult) -> str:
    if result.interval.lower is None and result.interval.upper is None:
        return "–"
    return f"[{number(result.interval.lower)}, {number(result.interval.upper)}]"


def ratio_legend(judgment: Judgment) -> str:
    """One line under a table: what its ratio column is, for the kinds of metric it holds."""
    kinds = [kind for kind in RATIO_MEANING if any(m.kind is kind for m in judgment.metrics)]
    names = {Kind.RATIO: "rates", Kind.HISTOGRAM: "latency", Kind.GAUGE: "gauges"}
    return "ratio = " + "; ".join(f"{names[kind]}: {RATIO_MEANING[kind]}" for kind in kinds)
