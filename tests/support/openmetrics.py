"""Turn simulated per-step counts into OpenMetrics text that ``promtool tsdb create-blocks-from`` loads.

Counters are written every ``scrape`` seconds, each step's increment spread evenly over its samples,
with a sample on every step boundary: Prometheus 2.x range selectors include both ends, so
``increase(x[step])`` at a step's end returns exactly that step's count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analyzer.model import HistogramMetric, Measurement, RatioMetric


@dataclass(frozen=True)
class Deployment:
    """One Rollout's canary run in Prometheus: where it lives and what it served."""

    namespace: str
    canary_hash: str
    stable_hash: str
    measurement: Measurement
    start: int  # epoch seconds of the canary's first step start
    stable_lead_steps: int = 5  # stable-only steps before the canary starts


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _cumulative_samples(per_step: np.ndarray, start: int, step: int, scrape: int) -> Iterable[tuple[int, np.ndarray]]:
    """(timestamp, counter values) every ``scrape`` seconds from ``start``; per_step is (steps, series)."""
    per_sample = step // scrape
    value = np.zeros(per_step.shape[1])
    yield start, value.copy()
    for k, row in enumerate(per_step):
        for j in range(1, per_sample + 1):
            value = value + row / per_sample
            yield start + k * step + j * scrape, value.copy()


def _arm_series(deployment: Deployment, arm: str) -> tuple[np.ndarray, np.ndarray, list[float], np.ndarray]:
    """(requests, errors, le, cumulative buckets) per step, stable with its lead steps prepended."""
    m = deployment.measurement
    ratio = next(d for d in m.metrics.values() if isinstance(d, RatioMetric))
    hist = next(d for d in m.metrics.values() if isinstance(d, HistogramMetric))
    counts = ratio.canary if arm == "canary" else ratio.stable
    total, errors = np.asarray(counts.total), np.asarray(counts.events)
    buckets = np.asarray(hist.canary if arm == "canary" else hist.stable, dtype=float)
    if arm == "stable" and deployment.stable_lead_steps:
        lead = deployment.stable_lead_steps
        total, errors = np.concatenate([total[:lead], total]), np.concatenate([errors[:lead], errors])
        buckets = np.concatenate([buckets[:lead], buckets])
    return total, errors, hist.le, buckets


def write_openmetrics(deployments: list[Deployment], scrape: int = 15) -> str:
    requests: list[str] = ["# TYPE http_requests counter"]
    histogram: list[str] = ["# TYPE http_request_duration_seconds histogram"]
    for d in deployments:
        step = int(d.measurement.step_seconds)
        for arm, pod_hash in (("canary", d.canary_hash), ("stable", d.stable_hash)):
            total, errors, le, buckets = _arm_series(d, arm)
            start = d.start - (d.stable_lead_steps * step if arm == "stable" else 0)
            base = {"namespace": d.namespace, "rollouts_pod_template_hash": pod_hash}
            codes = np.column_stack([total - errors, errors])
            for code, column in (("200", 0), ("500", 1)):
                for ts, values in _cumulative_samples(codes, start, step, scrape):
                    requests.append(f"http_requests_total{_labels(**base, code=code)} {values[column]:.6f} {ts}")
            mid = np.concatenate([[0.0], np.asarray(le[:-1])])  # a rough _sum: bucket lower bounds
            per_bucket = np.diff(buckets, axis=1, prepend=0.0)
            sums = (per_bucket * mid[None, :]).sum(axis=1, keepdims=True)
            for ts, values in _cumulative_samples(np.hstack([buckets, sums]), start, step, scrape):
                for bound, value in zip(le, values[:-1], strict=True):
                    text = "+Inf" if np.isinf(bound) else repr(float(bound))
                    histogram.append(
                        f"http_request_duration_seconds_bucket{_labels(**base, le=text)} {value:.6f} {ts}"
                    )
                histogram.append(f"http_request_duration_seconds_count{_labels(**base)} {values[-2]:.6f} {ts}")
                histogram.append(f"http_request_duration_seconds_sum{_labels(**base)} {values[-1]:.6f} {ts}")
    return "\n".join([*requests, *histogram, "# EOF", ""])
