"""Per-pod gauge values as arrays, and the result shape shared by the gauge and threshold judges.

A :class:`~analyzer.model.GaugeMetric` holds a value per step for each pod, ``None`` where the pod
had no sample. Here an arm becomes a (pods, steps) array with NaN for a missing value, its pods in
name order, so that both judges read the same steps the same way; :class:`PodValues` carries what a
look needs to judge one such metric once the e-Bonferroni budget is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzer.model import GaugeMetric, GaugeSeries, MetricPolicy, Samples
from analyzer.stats.eprocess import FloatArray


def arm_matrix(pods: dict[str, GaugeSeries], steps: int) -> FloatArray:
    """An arm's values as (pods, steps), pods in name order, NaN where a pod had no sample."""
    if not pods:
        return np.zeros((0, steps))
    rows = [[math.nan if v is None else v for v in pods[name]] for name in sorted(pods)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), steps)


def samples(canary: FloatArray, stable: FloatArray) -> Samples:
    """For gauges, 'requests' count the pod-steps with a value (the samples the tests use); no events."""
    return Samples(
        canary_requests=float(np.isfinite(canary).sum()),
        stable_requests=float(np.isfinite(stable).sum()),
        canary_events=0.0,
        stable_events=0.0,
        steps=int(canary.shape[1]),
    )



def step_means(data: GaugeMetric) -> tuple[FloatArray, FloatArray]:
    """(canary, stable) per step: the mean over the arm's pods with a value, NaN where none had one."""
    means = []
    for pods in (data.canary, data.stable):
        values = arm_matrix(pods, data.steps)
        seen = np.isfinite(values).sum(axis=0)
        means.append(np.where(seen > 0, np.nansum(values, axis=0) / np.maximum(seen, 1), np.nan))
    return means[0], means[1]


def gauge_samples(data: GaugeMetric, start: int) -> Samples:
    """The samples of a gauge metric from step ``start`` on (see :func:`samples`)."""
    return samples(arm_matrix(data.canary, data.steps)[:, start:], arm_matrix(data.stable, data.steps)[:, start:])


@dataclass(frozen=True)
class PodValues:
    """A gauge metric of one look and its policy, judged once the budget is known (see :func:`judge`)."""

    name: str
    data: GaugeMetric
    policy: MetricPolicy
    warmup_steps: int
    pass_from: int  # the measurement's step where the current analysis step began (0: the window's start)

    def arms(self) -> tuple[FloatArray, FloatArray, int]:
        """(canary, stable) after warm-up as (pods, steps) arrays, and the first step's index."""
        steps = self.data.steps
        start = min(self.warmup_steps, steps)
        return arm_matrix(self.data.canary, steps)[:, start:], arm_matrix(self.data.stable, steps)[:, start:], start
