"""Prepare a ratio metric (events out of requests) for the shared decision."""

from __future__ import annotations

import numpy as np

from analyzer.judging.comparison import Comparison
from analyzer.judging.evidence import StepCounts
from analyzer.judging.kept_lists import Column, Lists, Origin, list_key, steps_column
from analyzer.judging.metric import Prepared
from analyzer.judging.pods import arm_pods
from analyzer.judging.slo import SloCounts
from analyzer.model import Diagnostics, Estimate, MetricPolicy, RatioArm, RatioMetric
from analyzer.stats.rate_ratio import rate_ratio_test


class _Lists:
    """A ratio metric's per-step lists as arrays (:func:`analyzer.judging.kept_lists.steps_column`), and the
    columns they came from: the counts' :class:`~analyzer.judging.kept_lists.Origin`."""

    def __init__(self, name: str, data: RatioMetric) -> None:
        self.name, self.data = name, data
        self.columns: list[Column] = []

    def array(self, values: list[float], *path: str) -> np.ndarray:
        column = steps_column(list_key(self.name, self.data, *path), values)
        self.columns.append(column)
        return column.array


def _arm(lists: _Lists, side: str, start: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(events clipped to requests, requests, the largest overshoot clipped) of one arm after warm-up."""
    arm: RatioArm = getattr(lists.data, side)
    total = lists.array(arm.total, side, "total")[start:]
    events = lists.array(arm.events, side, "events")[start:]
    over = float(np.max(events - total, initial=0.0))
    return np.minimum(events, total), total, over


def prepare_ratio(name: str, data: RatioMetric, policy: MetricPolicy, warmup_steps: int) -> Prepared:
    """Steps after warm-up; events over requests (per-series extrapolation) are clipped, with a note."""
    start = min(warmup_steps, data.steps)
    lists = _Lists(name, data)
    e_c, n_c, over_c = _arm(lists, "canary", start)
    e_s, n_s, over_s = _arm(lists, "stable", start)
    notes = []
    if max(over_c, over_s) > 0:
        notes.append(
            f"events exceeded requests by up to {max(over_c, over_s):.3g} in a step (PromQL extrapolates each"
            " series on its own): clipped to requests"
        )
    canary_pods = stable_pods = None
    if data.pods is not None:
        series = {
            arm: [
                (lists.array(s.events, "pods", arm, pod, "events"), lists.array(s.total, "pods", arm, pod, "total"))
                for pod, s in pods.items()
            ]
            for arm, pods in (("canary", data.pods.canary), ("stable", data.pods.stable))
        }
        canary_pods = arm_pods([e for e, _ in series["canary"]], [t for _, t in series["canary"]], e_c, n_c, start)
        stable_pods = arm_pods([e for e, _ in series["stable"]], [t for _, t in series["stable"]], e_s, n_s, start)
    origin = Origin(Lists(tuple(lists.columns)), "ratio", start)
    counts = StepCounts(e_c, n_c, e_s, n_s, canary_pods=canary_pods, stable_pods=stable_pods, origin=origin)
    canary_rate, stable_rate = counts.rates()
    ratio = canary_rate / stable_rate if canary_rate is not None and stable_rate else None
    estimate = Estimate(
        ratio=ratio, canary=canary_rate, stable=stable_rate, canary_rate=canary_rate, stable_rate=stable_rate
    )
    slo = None
    if policy.slo is not None:
        slo = SloCounts(
            events=e_c,
            total=n_c,
            stable_events=e_s,
            stable_total=n_s,
            limit_rate=policy.slo.limit,
            observed=canary_rate,
            stable_observed=stable_rate,
            describe="error rate",
            origin=origin,
        )
    untestable = None
    t_c, t_s = float(n_c.sum()), float(n_s.sum())
    if t_c <= 0 or t_s <= 0:
        arm = "canary" if t_c <= 0 else "stable"
        untestable = f"no data: the {arm} served no requests after warm-up"
    fixed = (
        None
        if untestable
        else rate_ratio_test(float(e_c.sum()), t_c, float(e_s.sum()), t_s, ratio=policy.fail_ratio).pvalue
    )
    return Prepared(
        name=name,
        policy=policy,
        comparisons=(Comparison(counts),),
        first_step=start,
        estimate=estimate,
        slo=slo,
        untestable=untestable,
        diagnostics=Diagnostics(fixed_look_p_value=fixed, notes=notes),
        pods_known=data.pods is not None,
    )
