"""Measurements from Prometheus' range API: one combined query per look, by pod, on the epoch step grid.

A :class:`Window` is a run of whole steps on the epoch grid (every replica computes the same
steps): step k covers (start + (k-1)·step, start + k·step] and its value is the profile's query
evaluated at the step's end, i.e. ``increase(x[step])`` over that step. A look sends every query of
its profile as one expression (:func:`combine`) under one :class:`~analyzer.sources.promapi.Deadline`;
:mod:`analyzer.sources.promapi` retries, bounds and checks the HTTP exchange, and
:mod:`analyzer.sources.assemble` turns the series into a measurement (per pod where the profile
queries by pod) and names the metrics whose data cannot be judged (missing, partial or stale).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.sources.assemble import Fetched, Series, assemble
from analyzer.sources.cache import CachedSeries, CachePolicy, WindowCache
from analyzer.sources.promapi import Deadline, PrometheusApi, PrometheusError, RawSeries, malformed
from analyzer.sources.queries import ARMS, Arm, QueryProfile, Target, is_inf_le, queries_of

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
#: The label that tells the parts of a combined query apart.
PART = "canary_analyzer_part"
#: The deadline of a call made without one (export, SLO readings): as long as a look's.
DEFAULT_DEADLINE_SECONDS = 8.0


@dataclass(frozen=True)
class Window:
    """Whole steps from ``start`` (exclusive) to ``end`` (inclusive), in epoch seconds on the step grid."""

    start: int
    end: int
    step: int

    @property
    def steps(self) -> int:
        return max((self.end - self.start) // self.step, 0)


def align_down(timestamp: float, step: int) -> int:
    return math.floor(timestamp / step) * step


def combine(queries: Sequence[str]) -> str:
    """One PromQL expression for several: each part's series tagged ``PART=i`` and joined with ``or``."""
    return " or ".join(f'label_replace({q}, "{PART}", "{i}", "", "")' for i, q in enumerate(queries))


def on_grid(raw: RawSeries, window: Window) -> Series:
    """A series' samples placed on the window's steps: 0 (and not present) where absent, NaN or negative."""
    values = np.zeros(window.steps)
    present = np.zeros(window.steps, dtype=bool)
    if raw.points.size:
        steps = np.rint((raw.points[:, 0] - window.start) / window.step).astype(np.int64) - 1
        samples = raw.points[:, 1]
        inside = (steps >= 0) & (steps < window.steps)
        finite = inside & np.isfinite(samples)
        present[steps[finite]] = True
        keep = finite & (samples > 0)
        values[steps[keep]] = samples[keep]
    return Series(labels=raw.labels, values=values, present=present)


class PrometheusSource(PrometheusApi):
    """The API client that runs a query profile's queries for one target over one window.

    A look's window is fetched through this client's :class:`~analyzer.sources.cache.WindowCache`
    (``cache``; ``None``: every look fetches its whole window), so that it costs its newest steps."""

    def __init__(self, url: str, cache: CachePolicy | None = None, **options: Any) -> None:
        """``options``: those of :class:`~analyzer.sources.promapi.PrometheusApi` (headers, timeouts, auth…)."""
        super().__init__(url, **options)
        self.cache = WindowCache(cache) if cache is not None else None

    def _range(self, query: str, window: Window, deadline: Deadline) -> tuple[list[Series], list[str]]:
        """The query's series on the window's steps, and the answer's warnings."""
        if window.steps > MAX_POINTS:
            raise PrometheusError("error", f"{window.steps} steps exceed Prometheus' limit of {MAX_POINTS} points")
        matrix = self.query_range(query, window.start + window.step, window.end, window.step, deadline)
        return [on_grid(raw, window) for raw in matrix.series], matrix.warnings

    def ping(self) -> None:
        """Raise :class:`~analyzer.errors.SourceUnavailableError` unless the query API answers a query.

        The query API itself, not Prometheus' ``/-/ready``, which a Mimir or Thanos query frontend under a
        path prefix (``…/prometheus``) does not serve, and which passes no credentials or tenant check."""
        status, body = self.get("/api/v1/query", {"query": "vector(1)"}, Deadline(self._timeout))
        if status != 200:
            raise PrometheusError("error", f"Prometheus at {self.url} is not ready (HTTP {status})")
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise malformed(self.url, "the readiness query's answer is not JSON") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise malformed(self.url, "the readiness query did not succeed")

    def first_data(
        self, profile: QueryProfile, target: Target, since: float, until: float, deadline: Deadline | None = None
    ) -> int | None:
        """The start of the window: the step before the canary's first step with requests, or None."""
        step = profile.step_seconds
        earliest = max(since, until - (MAX_POINTS - 1) * step)
        window = Window(start=align_down(earliest, step), end=align_down(until, step), step=step)
        if window.steps == 0:
            return None
        name, queries = next(iter(profile.metrics.items()))
        query = "total" if queries.kind == "ratio" else "buckets"
        series, _ = self._range(
            profile.render(name, query, "canary", target), window, deadline or Deadline(DEFAULT_DEADLINE_SECONDS)
        )
        found: list[int] = []
        for s in series:
            if queries.kind == "histogram" and not is_inf_le(s.labels.get("le", "")):
                continue
            hits = np.flatnonzero(s.values > 0)
            if hits.size:
                found.append(int(hits[0]))
        if not found:
            return None
        return window.start + min(found) * step

    def fetch(self, profile: QueryProfile, target: Target, window: Window, deadline: Deadline | None = None) -> Fetched:
        """One look's measurement: every metric of the profile, both arms (and their pods), the window's steps."""
        plan: list[tuple[str, str, Arm]] = [
            (name, query, arm)
            for name, queries in profile.metrics.items()
            for query in queries_of(queries)
            for arm in ARMS
        ]
        combined = combine([profile.render(name, query, arm, target) for name, query, arm in plan])
        deadline = deadline or Deadline(DEFAULT_DEADLINE_SECONDS)
        if self.cache is None:
            cached = CachedSeries(*self._range(combined, window, deadline), outcome="new")
        else:
            cached = self.cache.series(combined, window, functools.partial(self._range, combined, deadline=deadline))
        parts: dict[tuple[str, str, Arm], list[Series]] = {key: [] for key in plan}
        for s in cached.series:
            labels = dict(s.labels)
            part = labels.pop(PART, None)
            if part is None or not part.isdigit() or int(part) >= len(plan):
                raise malformed(self.url, f"a series without its {PART} label")
            parts[plan[int(part)]].append(Series(labels=labels, values=s.values, present=s.present))
        # The profile and target the last look built with: the same query text could come of another profile.
        made_with = (profile, target)
        kept = cached.built[1] if cached.built is not None and cached.built[0] == made_with else None
        fresh_from = cached.fresh_from if kept is not None else 0
        fetched = assemble(profile, target, parts, window.steps, window.step, cached.warnings, kept, fresh_from)
        if self.cache is not None and not cached.warnings:
            self.cache.keep(combined, window, cached, (made_with, fetched.measurement))
        return fetched
