"""A window's boundaries in steps: where a retried canary starts again, and where a Rollout step's
analysis began.

A canary that served nothing for ``gap_steps`` whole steps and then served again was scaled away
and brought back (an abort, then ``kubectl argo rollouts retry``): its earlier data judged another
run, so its window starts again after the gap. Judging the old data would fail the fixed canary
on the aborted one's evidence for as long as the window is kept.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.model import HistogramMetric, Measurement, RatioMetric


def canary_requests(measurement: Measurement) -> np.ndarray:
    """The canary's requests per step, the most any metric counted (0 steps: an empty array)."""
    steps = max((data.steps for data in measurement.metrics.values()), default=0)
    most = np.zeros(steps)
    for data in measurement.metrics.values():
        if isinstance(data, HistogramMetric):
            counted = np.asarray([row[-1] if row else 0.0 for row in data.canary], dtype=np.float64)
        elif isinstance(data, RatioMetric):
            counted = np.asarray(data.canary.total, dtype=np.float64)
        else:  # gauges count no requests
            continue
        most = np.maximum(most, counted)
    return most


def restart_step(requests: np.ndarray, gap_steps: int) -> int | None:
    """The step after the last run of at least ``gap_steps`` idle canary steps that the canary's
    requests follow (``requests``: per step, from :func:`canary_requests`), or None: the window goes on."""
    busy = np.flatnonzero(requests >= 0.5)  # PromQL extrapolation leaves fractions of a request
    gaps = np.flatnonzero(np.diff(busy) > gap_steps)
    return int(busy[gaps[-1] + 1]) if gaps.size else None


def idle_tail(requests: np.ndarray) -> int:
    """How many of the last steps the canary served no request in."""
    busy = np.flatnonzero(requests >= 0.5)
    return len(requests) - int(busy[-1]) - 1 if busy.size else len(requests)


def pass_from(first_look: int, window_start: int, step_seconds: int) -> int:
    """The first whole step after the step's first look (0-based): the one before it mixes the previous
    step's traffic (e.g. the old weight) with this one's."""
    return max(0, math.ceil((first_look - window_start) / step_seconds))
