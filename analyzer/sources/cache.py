"""Incremental looks: a window's past steps kept per process, so a look fetches only its newest steps.

Argo asks about the same window every minute, and all but the newest step or two of it are the same
as a minute ago: a range query evaluates each step on its own (``increase(x[60s])`` at a step's end
reads only that step's samples), so a step whose samples are all in Prometheus never changes, a
counter reset included (``increase()`` handles it inside the step). :class:`WindowCache` keeps each
window's series on the step grid and asks Prometheus only for the steps since the last look plus
:attr:`CachePolicy.reread_steps` before them, which a late sample (remote-write lag, a slow scrape)
may still change.

**Any doubt is a full fetch**, never a guess:

* nothing kept for this query, window start and step (a restart, another replica's first look, an
  evicted entry, a window that moved or a step grid that differs);
* the window shrank, or grew by more than :attr:`CachePolicy.max_new_steps` since the last look (a gap);
* every :attr:`CachePolicy.refresh_looks` looks, whatever else holds;
* the oldest re-read step differs from what was kept (history changed: a late sample older than the
  re-read steps, a counter rewritten, a backfill), a series appears that was not kept (a new pod, a
  new ``le``), or a kept series with samples in the re-read steps is gone from the answer;
* the answer carries warnings (a partial response is never kept).

A different datasource is a different :class:`~analyzer.sources.prometheus.PrometheusSource` with its
own cache, and a different profile or target is a different query text, hence a different key.

Each entry also keeps the measurement the last look built from its series (:meth:`WindowCache.keep`):
an incremental look hands it back with the step its fresh answer starts at
(:attr:`CachedSeries.fresh_from`), so that the caller builds and validates only the steps from there
(:func:`analyzer.sources.assemble.assemble`) and stores only those (:mod:`analyzer.service.reports`).

Memory is bounded: least recently used windows are dropped past :attr:`CachePolicy.max_entries`
windows or :attr:`CachePolicy.max_bytes` of kept arrays and measurements.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from prometheus_client import Counter

from analyzer.model import Measurement
from analyzer.sources.assemble import Series

if TYPE_CHECKING:
    from analyzer.sources.prometheus import Window

#: What a look did: an incremental fetch, or a full one and why.
Outcome = Literal["incremental", "new", "refresh", "gap", "changed", "partial"]
#: A window's series, keyed by their sorted labels.
LabelKey = tuple[tuple[str, str], ...]
#: Fetch the series of a window on its steps (and the answer's warnings).
FetchWindow = Callable[["Window"], tuple[list[Series], list[str]]]

LOOKS = Counter(
    "canary_analyzer_window_cache_looks_total",
    "Range fetches of a look's window, by outcome: incremental, or why the whole window was fetched",
    ["outcome"],
)

#: An estimate of a kept series' overhead beyond its two arrays (labels, objects), in bytes.
SERIES_OVERHEAD_BYTES = 600
#: An estimate of what a kept measurement costs per step of each kept series, in bytes: a Python float
#: and its list slot (32 bytes) for the series' pod and for its share of the arm's sum.
MEASUREMENT_BYTES_PER_VALUE = 64


@dataclass(frozen=True)
class CachePolicy:
    """How a process keeps windows: how far back it re-reads, how often it refetches all, how much it holds."""

    reread_steps: int = 3
    refresh_looks: int = 30
    max_new_steps: int = 30
    max_entries: int = 1024
    max_bytes: int = 128 * 2**20

    def __post_init__(self) -> None:
        if self.reread_steps < 1 or self.refresh_looks < 1 or self.max_new_steps < 0:
            raise ValueError("reread_steps and refresh_looks must be at least 1, max_new_steps at least 0")


#: What a measurement was built with beyond the series (e.g. the profile and target), and the measurement.
Built = tuple[object, Measurement]


@dataclass(frozen=True)
class _Entry:
    """One window's series over its first ``steps`` steps, how many looks used it since a full fetch, and
    the measurement built from them (once the caller kept it)."""

    steps: int
    series: dict[LabelKey, Series]
    looks: int
    nbytes: int
    built: Built | None = None


@dataclass(frozen=True)
class CachedSeries:
    """A look's series over its whole window, and what of the last look it may build on.

    ``fresh_from``: every step before it is exactly the last look's (an incremental look: the first re-read
    step; a full fetch: the first step that differs from what was kept, 0 when a series came or went).
    ``built``: what the last look built from its series (None when nothing of it holds)."""

    series: list[Series]
    warnings: list[str]
    outcome: Outcome
    fresh_from: int = 0
    built: Built | None = None
    kept_as: object = None  # the entry these series were kept as, which :meth:`WindowCache.keep` extends


def label_key(series: Series) -> LabelKey:
    return tuple(sorted(series.labels.items()))


def _entry(steps: int, series: list[Series], looks: int) -> _Entry:
    kept = {label_key(s): s for s in series}
    nbytes = sum(s.values.nbytes + s.present.nbytes + SERIES_OVERHEAD_BYTES for s in kept.values())
    return _Entry(steps=steps, series=kept, looks=looks, nbytes=nbytes)


def _with_built(entry: _Entry, built: Built) -> _Entry:
    extra = sum(s.values.size for s in entry.series.values()) * MEASUREMENT_BYTES_PER_VALUE
    return replace(entry, built=built, nbytes=entry.nbytes + extra)


def _merged(entry: _Entry, first: int, fresh: list[Series], steps: int) -> list[Series] | None:
    """The kept steps before ``first`` joined to the answer from ``first`` on; None when the two disagree."""
    by_key = {label_key(s): s for s in fresh}
    if not by_key.keys() <= entry.series.keys():
        return None  # a series not kept: a new pod or bucket, the whole window may have it
    tail = steps - first
    merged = []
    for key, kept in entry.series.items():
        new = by_key.get(key)
        if new is None:
            if kept.present[first:].any():
                return None  # samples we had in the re-read steps are gone
            values, present = np.zeros(tail), np.zeros(tail, dtype=bool)
        else:
            same = new.present[0] == kept.present[first] and new.values[0] == kept.values[first]
            if not same:
                return None  # the oldest re-read step changed: history is not what was kept
            values, present = new.values, new.present
        merged.append(Series(
            labels=kept.labels,
            values=np.concatenate([kept.values[:first], values]),
            present=np.concatenate([kept.present[:first], present]),
        ))
    return merged


def _same_steps(entry: _Entry, series: list[Series], steps: int) -> int:
    """How many first steps of a full answer are exactly the kept ones (0 unless it has the same series)."""
    by_key = {label_key(s): s for s in series}
    if by_key.keys() != entry.series.keys():
        return 0
    same = min(entry.steps, steps)
    for key, kept in entry.series.items():
        new = by_key[key]
        differs = (new.values[:same] != kept.values[:same]) | (new.present[:same] != kept.present[:same])
        if differs.any():
            same = int(np.argmax(differs))
    return same


class WindowCache:
    """Each window's series per process, least recently used dropped first; safe across request threads."""

    def __init__(self, policy: CachePolicy | None = None) -> None:
        self.policy = policy or CachePolicy()
        self._entries: OrderedDict[tuple[str, int, int], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def series(self, query: str, window: Window, fetch: FetchWindow) -> CachedSeries:
        """The query's series over the whole ``window``: from what is kept plus its newest steps, or in full."""
        cached = self._series(query, window, fetch)
        LOOKS.labels(cached.outcome).inc()
        return cached

    def keep(self, query: str, window: Window, cached: CachedSeries, built: Built) -> None:
        """Keep what the caller built from ``cached`` (what :meth:`series` gave for ``window``) for the next look,
        unless another look has replaced those series since."""
        key = (query, window.start, window.step)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry is not cached.kept_as:
                return
            kept = _with_built(entry, built)
            if kept.nbytes > self.policy.max_bytes:
                return  # the series alone stay kept
            self._entries[key] = kept
            self._bytes += kept.nbytes - entry.nbytes
            self._evict()

    def _series(self, query: str, window: Window, fetch: FetchWindow) -> CachedSeries:
        key = (query, window.start, window.step)
        entry = self._get(key)
        reason = self._doubt(entry, window)
        if reason is None and entry is not None:
            first = entry.steps - self.policy.reread_steps
            tail = replace(window, start=window.start + first * window.step)
            fresh, warnings = fetch(tail)
            merged = None if warnings else _merged(entry, first, fresh, window.steps)
            if merged is not None:
                kept = self._put(key, _entry(window.steps, merged, entry.looks + 1))
                return CachedSeries(merged, warnings, "incremental", first, entry.built, kept)
            reason = "partial" if warnings else "changed"
        series, warnings = fetch(window)
        if warnings:
            self._drop(key)
            return CachedSeries(series, warnings, reason or "new")
        kept = self._put(key, _entry(window.steps, series, 1))
        if entry is None:
            return CachedSeries(series, warnings, "new", kept_as=kept)
        same = min(_same_steps(entry, series, window.steps), window.steps - 1)
        return CachedSeries(series, warnings, reason or "new", same, entry.built if same > 0 else None, kept)

    def _doubt(self, entry: _Entry | None, window: Window) -> Outcome | None:
        """Why this look must fetch the whole window (None: the kept steps can be used)."""
        if entry is None:
            return "new"
        if entry.looks >= self.policy.refresh_looks:
            return "refresh"
        grown = window.steps - entry.steps
        if grown < 0 or grown > self.policy.max_new_steps or entry.steps <= self.policy.reread_steps:
            return "gap"
        return None

    def _get(self, key: tuple[str, int, int]) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def _drop(self, key: tuple[str, int, int]) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= entry.nbytes

    def _put(self, key: tuple[str, int, int], entry: _Entry) -> _Entry | None:
        """Keep ``entry`` (and return it), or None when it alone is larger than the whole budget."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if entry.nbytes > self.policy.max_bytes:
                return None  # one window larger than the whole budget: fetched in full every look
            self._entries[key] = entry
            self._bytes += entry.nbytes
            self._evict()
            return entry

    def _evict(self) -> None:
        """Drop the least recently used windows past the bounds (the lock held); the newest one stays."""
        while len(self._entries) > self.policy.max_entries or self._bytes > self.policy.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.nbytes
