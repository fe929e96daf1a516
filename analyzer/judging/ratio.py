"""Prepare a ratio metric (events out of requests) for the shared decision."""

from __future__ import annotations

import numpy as np

from analyzer.judging.evidence import StepCounts
from analyzer.judging.metric import Prepared, SloCounts
from analyzer.model import Diagnostics, Estimate, MetricPolicy, RatioMetric
from analyzer.stats.rate_ratio import rate_ratio_test


def _rate(events: float, total: float) -> float | None:
    return events / total if total > 0 else None


def prepare_ratio(name: str, data: RatioMetric, policy: MetricPolicy, warmup_steps: int) -> Prepared:
    """Steps after warm-up; events are clipped to requests (they may differ by extrapolation slack)."""
    start = min(warmup_steps, data.steps)
    n_c = np.asarray(data.canary.total[start:], dtype=np.float64)
    n_s = np.asarray(data.stable.total[start:], dtype=np.float64)
    counts = StepCounts(
        canary_events=np.minimum(np.asarray(data.canary.events[start:], dtype=np.float64), n_c),
        canary_total=n_c,
        stable_events=np.minimum(np.asarray(data.stable.events[start:], dtype=np.float64), n_s),
        stable_total=n_s,
    )
    e_c, e_s = float(counts.canary_events.sum()), float(counts.stable_events.sum())
    t_c, t_s = float(n_c.sum()), float(n_s.sum())
    canary_rate, stable_rate = _rate(e_c, t_c), _rate(e_s, t_s)
    ratio = canary_rate / stable_rate if canary_rate is not None and stable_rate else None
    estimate = Estimate(
        ratio=ratio, canary=canary_rate, stable=stable_rate, canary_rate=canary_rate, stable_rate=stable_rate
    )
    slo = None
    if policy.slo is not None:
        slo = SloCounts(
            events=counts.canary_events,
            total=n_c,
            limit_rate=policy.slo.limit,
            observed=canary_rate,
            describe="error rate",
        )
    untestable = None
    if t_c <= 0 or t_s <= 0:
        arm = "canary" if t_c <= 0 else "stable"
        untestable = f"no data: the {arm} served no requests after warm-up"
    fixed = None if untestable else rate_ratio_test(e_c, t_c, e_s, t_s, ratio=policy.fail_ratio).pvalue
    return Prepared(
        name=name,
        policy=policy,
        counts=counts,
        first_step=start,
        estimate=estimate,
        slo=slo,
        untestable=untestable,
        diagnostics=Diagnostics(fixed_look_p_value=fixed),
    )
