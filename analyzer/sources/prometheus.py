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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from analyzer.sources.assemble import Fetched, assemble
from analyzer.sources.cache import CachedSeries, CachePolicy, WindowCache
from analyzer.sources.grid import Grid, Labels
from analyzer.sources.layout import Layout
from analyzer.sources.promapi import Deadline, PrometheusApi, PrometheusError, malformed
from analyzer.sources.queries import ARMS, Arm, QueryProfile, Target, is_inf_le, queries_of

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
#: The label that tells the parts of a combined query apart.
PART = "canary_analyzer_part"
#: The deadline of a call made without one (export, SLO readings): as long as a look's.
DEFAULT_DEADLINE_SECONDS = 8.0
#: Combined queries a source keeps rendered (profile and target pairs); past it, it starts again.
MAX_PLANS = 4096
#: The parts of a combined query, in the order of their PART label: (metric, query, arm).
Plan = list[tuple[str, str, Arm]]


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


@dataclass(frozen=True)
class _Built:
    """What a look built from its window's series, kept with them for the next look (see :meth:`fetch`)."""

    made_with: tuple[QueryProfile, Target]  # the same query text could come of another profile
    layout: Layout
    fetched: Fetched


class PrometheusSource(PrometheusApi):
    """The API client that runs a query profile's queries for one target over one window.

    A look's window is fetched through this client's :class:`~analyzer.sources.cache.WindowCache`
    (``cache``; ``None``: every look fetches its whole window), so that it costs its newest steps."""

    def __init__(self, url: str, cache: CachePolicy | None = None, **options: Any) -> None:
        """``options``: those of :class:`~analyzer.sources.promapi.PrometheusApi` (headers, timeouts, auth…)."""
        super().__init__(url, **options)
        self.cache = WindowCache(cache) if cache is not None else None
        self._plans: dict[tuple[int, Target], tuple[QueryProfile, Plan, str]] = {}

    def plan(self, profile: QueryProfile, target: Target) -> tuple[Plan, str]:
        """The parts of a look's combined query (metric, query, arm) and its text: rendered once per profile and
        target (:data:`MAX_PLANS` kept; a profile is known by identity, and held so that it stays itself)."""
        held = self._plans.get((id(profile), target))
        if held is not None and held[0] is profile:
            return held[1], held[2]
        plan: Plan = [
            (name, query, arm)
            for name, queries in profile.metrics.items()
            for query in queries_of(queries)
            for arm in ARMS
        ]
        combined = combine([profile.render(name, query, arm, target) for name, query, arm in plan])
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()  # the next looks render theirs again
        self._plans[(id(profile), target)] = (profile, plan, combined)
        return plan, combined

    def _range(self, query: str, window: Window, deadline: Deadline) -> tuple[Grid, list[str]]:
        """The query's series on the window's steps, and the answer's warnings."""
        if window.steps > MAX_POINTS:
            raise PrometheusError("error", f"{window.steps} steps exceed Prometheus' limit of {MAX_POINTS} points")
        matrix = self.query_range(query, window.start + window.step, window.end, window.step, deadline)
        return Grid.of(matrix, window.start, window.step, window.steps), matrix.warnings

    def ping(self) -> None:
        """Raise :class:`~analyzer.errors.SourceUnavailableError` unless the query API answers a query.

        The query API itself, not Prometheus' ``/-/ready``, which a Mimir or Thanos query frontend under a
        path prefix (``…/prometheus``) does not serve, and which passes no credentials or tenant check."""
        status, body = self.call("/api/v1/query", {"query": "vector(1)"}, Deadline(self._timeout))
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
        grid, _ = self._range(
            profile.render(name, query, "canary", target), window, deadline or Deadline(DEFAULT_DEADLINE_SECONDS)
        )
        rows = [row for row, labels in enumerate(grid.labels)
                if queries.kind != "histogram" or is_inf_le(labels.get("le", ""))]
        hits = np.flatnonzero((grid.values[rows] > 0).any(axis=0))
        return window.start + int(hits[0]) * step if hits.size else None

    def fetch(self, profile: QueryProfile, target: Target, window: Window, deadline: Deadline | None = None) -> Fetched:
        """One look's measurement: every metric of the profile, both arms (and their pods), the window's steps."""
        plan, combined = self.plan(profile, target)
        deadline = deadline or Deadline(DEFAULT_DEADLINE_SECONDS)
        if self.cache is None:
            cached = CachedSeries(*self._range(combined, window, deadline), outcome="new")
        else:
            cached = self.cache.series(combined, window, functools.partial(self._range, combined, deadline=deadline))
        made_with = (profile, target)
        last = cached.built if isinstance(cached.built, _Built) and cached.built.made_with == made_with else None
        if last is not None and last.layout.labels == cached.grid.labels:  # the same series: their layout holds
            layout = last.layout
        else:
            layout = Layout.of(profile, cached.grid.labels, self._parts(plan, cached.grid.labels))
        kept = last.fetched.measurement if last is not None else None
        fresh_from = cached.fresh_from if kept is not None else 0
        if last is not None and layout is last.layout and fresh_from == cached.grid.steps:
            # The window as the last look left it: what that look built from these very series holds (assembly
            # is a function of the layout and the grid alone), its measurement the same object.
            fetched = replace(last.fetched, notes=list(last.fetched.notes), unavailable=dict(last.fetched.unavailable),
                              fresh_from=fresh_from)
        else:
            fetched = assemble(profile, target, layout, cached.grid, window.step, cached.warnings, kept, fresh_from)
        fetched = replace(fetched, read_from=cached.read_from if kept is not None else 0)
        if self.cache is not None and not cached.warnings:
            self.cache.keep(combined, window, cached, _Built(made_with, layout, fetched))
        return fetched

    def _parts(self, plan: Plan, labels: list[Labels]) -> dict[tuple[str, str, Arm], list[int]]:
        """The rows of each part of the combined query, told apart by their :data:`PART` label."""
        parts: dict[tuple[str, str, Arm], list[int]] = {key: [] for key in plan}
        for row, found in enumerate(labels):
            part = found.get(PART)
            if part is None or not part.isdigit() or int(part) >= len(plan):
                raise malformed(self.url, f"a series without its {PART} label")
            parts[plan[int(part)]].append(row)
        return parts
