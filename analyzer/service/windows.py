"""A window's boundaries in steps: where a retried canary starts again, and where a Rollout step's
analysis began.

A canary that served nothing for ``gap_steps`` whole steps and then served again was scaled away
and brought back (an abort, then ``kubectl argo rollouts retry``): its earlier data judged another
run, so its window starts again after the gap. Judging the old data would fail the fixed canary
on the aborted one's evidence for as long as the window is kept.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A bounded map of per-window facts a process remembers between looks, least recently used dropped
    first; each call is atomic across request threads."""

    def __init__(self, max_windows: int = 4096) -> None:
        self.max_windows = max_windows
        self._held: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._held.get(key)
            if value is not None:
                self._held.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        self.update(key, lambda _: value)

    def update(self, key: K, change: Callable[[V | None], V | None]) -> V | None:
        """Replace the value by ``change(value)`` in one step (None: leave it as it is); the value that holds."""
        with self._lock:
            value = change(self._held.get(key))
            if value is None:
                return self._held.get(key)
            self._held[key] = value
            self._held.move_to_end(key)
            while len(self._held) > self.max_windows:
                self._held.popitem(last=False)
            return value
