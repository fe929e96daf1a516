"""Turn simulated per-step counts into OpenMetrics text that ``promtool tsdb create-blocks-from`` loads.

Counters are written every ``scrape`` seconds, each step's increment spread evenly over its samples,
with a sample on every step boundary: Prometheus 2.x range selectors include both ends, so
``increase(x[step])`` at a step's end returns exactly that step's count.

Each arm is served by pods, labelled ``pod`` as Prometheus Operator labels them: the measurement's
own per-pod counts when it has them, else the arm's counts split over ``pod_shares``. An arm or a pod
named in ``omit_errors`` gets no 5xx series at all — a dropped series, or a counter never created.
After its data each arm's first pod is seen again, idle (flat counters), around the test session
(``idle``; ``None``: never), so that looks on the real clock find an idle canary, not stale data.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from analyzer.model import HistogramMetric, Measurement, RatioMetric

#: How long after the test session starts an arm's idle pod stays, by default.
IDLE_SECONDS = 3 * 3600
#: (requests, errors, cumulative buckets) per step of one pod.
PodCounts = tuple[np.ndarray, np.ndarray, np.ndarray]


def _around_now() -> tuple[int, int]:
    now = int(time.time())
    return now - 600, now + IDLE_SECONDS


def _default_shares() -> dict[str, tuple[float, ...]]:
    return {"canary": (0.5, 0.5), "stable": (0.3, 0.3, 0.4)}


@dataclass(frozen=True)
class Deployment:
    """One Rollout's canary run in Prometheus: where it lives and what it served."""

    namespace: str
    canary_hash: str
    stable_hash: str
    measurement: Measurement
    start: int  # epoch seconds of the canary's first step start
    stable_lead_steps: int = 5  # stable-only steps before the canary starts
    pod_shares: dict[str, tuple[float, ...]] = field(default_factory=_default_shares)
    omit_errors: tuple[str, ...] = ()  # arms and pods written without their 5xx series
    # Each arm's first pod is scraped again, idle (its counters flat), over this span of epoch seconds, so
    # that a look on the real clock sees an idle arm, not stale data; None: the series end with the data.
    idle: tuple[int, int] | None = field(default_factory=_around_now)

    def pod_hash(self, arm: str) -> str:
        return self.canary_hash if arm == "canary" else self.stable_hash

    def pod_names(self, arm: str) -> list[str]:
        """The arm's pods, named like a ReplicaSet's (when the measurement has none of its own)."""
        return [f"checkout-{self.pod_hash(arm)}-p{i}" for i in range(len(self.pod_shares[arm]))]


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _cumulative_samples(
    per_step: np.ndarray, start: int, step: int, scrape: int, idle: tuple[int, int] | None
) -> Iterable[tuple[int, np.ndarray]]:
    """(timestamp, counter values) every ``scrape`` seconds from ``start``; per_step is (steps, series).

    After the data, within the ``idle`` span, the counters stay where they are, one sample per step on
    the step grid: a pod that is there and serves nothing (``increase()`` is 0, not absent).
    """
    per_sample = step // scrape
    value = np.zeros(per_step.shape[1])
    yield start, value.copy()
    for k, row in enumerate(per_step):
        for j in range(1, per_sample + 1):
            value = value + row / per_sample
            yield start + k * step + j * scrape, value.copy()
    if idle is not None:
        first = max(start + (len(per_step) + 1) * step, start + -(-(idle[0] - start) // step) * step)
        for ts in range(first, idle[1] + 1, step):
            yield ts, value


def _pods(deployment: Deployment, arm: str) -> tuple[list[float], dict[str, PodCounts]]:
    """``le`` and each pod's counts per step, stable's with its lead steps prepended."""
    m = deployment.measurement
    ratio = next(d for d in m.metrics.values() if isinstance(d, RatioMetric))
    hist = next(d for d in m.metrics.values() if isinstance(d, HistogramMetric))
    ratio_pods = getattr(ratio.pods, arm) if ratio.pods else {}
    hist_pods = getattr(hist.pods, arm) if hist.pods else {}
    if ratio_pods and set(ratio_pods) == set(hist_pods):
        pods = {
            name: (np.asarray(ratio_pods[name].total), np.asarray(ratio_pods[name].events), np.asarray(hist_pods[name]))
            for name in ratio_pods
        }
    else:
        counts = getattr(ratio, arm)
        total, errors = np.asarray(counts.total), np.asarray(counts.events)
        buckets = np.asarray(getattr(hist, arm), dtype=float)
        names = deployment.pod_names(arm)
        pods = {n: (total * s, errors * s, buckets * s) for n, s in zip(names, deployment.pod_shares[arm], strict=True)}
    lead = deployment.stable_lead_steps if arm == "stable" else 0

    def led(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[:lead], a])

    return hist.le, {n: (led(t), led(e), led(b)) for n, (t, e, b) in pods.items()}


def write_openmetrics(deployments: list[Deployment], scrape: int = 15) -> str:
    requests: list[str] = ["# TYPE http_requests counter"]
    histogram: list[str] = ["# TYPE http_request_duration_seconds histogram"]
    for d in deployments:
        step = int(d.measurement.step_seconds)
        for arm in ("canary", "stable"):
            le, pods = _pods(d, arm)
            start = d.start - (d.stable_lead_steps * step if arm == "stable" else 0)
            for i, (pod, (total, errors, buckets)) in enumerate(pods.items()):
                base = {"namespace": d.namespace, "rollouts_pod_template_hash": d.pod_hash(arm), "pod": pod}
                idle = d.idle if i == 0 else None
                codes = np.column_stack([total - errors, errors])
                omitted = arm in d.omit_errors or pod in d.omit_errors
                written = (("200", 0),) if omitted else (("200", 0), ("500", 1))
                for code, column in written:
                    for ts, values in _cumulative_samples(codes, start, step, scrape, idle):
                        requests.append(f"http_requests_total{_labels(**base, code=code)} {values[column]:.6f} {ts}")
                mid = np.concatenate([[0.0], np.asarray(le[:-1])])  # a rough _sum: bucket lower bounds
                per_bucket = np.diff(buckets, axis=1, prepend=0.0)
                sums = (per_bucket * mid[None, :]).sum(axis=1, keepdims=True)
                for ts, values in _cumulative_samples(np.hstack([buckets, sums]), start, step, scrape, idle):
                    for bound, value in zip(le, values[:-1], strict=True):
                        text = "+Inf" if np.isinf(bound) else repr(float(bound))
                        histogram.append(
                            f"http_request_duration_seconds_bucket{_labels(**base, le=text)} {value:.6f} {ts}"
                        )
                    histogram.append(f"http_request_duration_seconds_count{_labels(**base)} {values[-2]:.6f} {ts}")
                    histogram.append(f"http_request_duration_seconds_sum{_labels(**base)} {values[-1]:.6f} {ts}")
    return "\n".join([*requests, *histogram, "# EOF", ""])
