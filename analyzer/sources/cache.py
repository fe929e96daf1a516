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
* every :attr:`CachePolicy.refresh_looks` looks, a window of at most :attr:`CachePolicy.refresh_steps`
  kept steps, whatever else holds;
* the oldest re-read step differs from what was kept (history changed: a late sample older than the
  re-read steps, a counter rewritten, a backfill), a series appears that was not kept (a new pod, a
  new ``le``), or a kept series with samples in the re-read steps is gone from the answer;
* every :attr:`CachePolicy.refresh_looks` looks, a longer window's next :attr:`CachePolicy.refresh_steps`
  kept steps (round robin from its start) re-read besides its newest ones differ in any way from what
  was kept;
* the answer carries warnings (a partial response is never kept).

So every kept step is read again within ``refresh_looks`` looks (a window of ``refresh_steps`` steps
or fewer), or within ``refresh_looks × ⌈steps / refresh_steps⌉`` looks: the refresh of a day-long window
costs Prometheus and the service what a ``refresh_steps`` window's costs, a bounded share of a look,
instead of the whole window's evaluation at once (which on a busy machine may outlast the look's
timeout).

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

from analyzer.sources.grid import Grid, Labels

if TYPE_CHECKING:
    from analyzer.sources.prometheus import Window

#: What a look did: an incremental fetch, or a full one and why.
Outcome = Literal["incremental", "new", "refresh", "gap", "changed", "partial"]
#: A series' sorted labels: what identifies it across answers.
LabelKey = tuple[tuple[str, str], ...]
#: Fetch the series of a window on its steps (and the answer's warnings).
FetchWindow = Callable[["Window"], tuple[Grid, list[str]]]

LOOKS = Counter(
    "canary_analyzer_window_cache_looks_total",
    "Range fetches of a look's window, by outcome: incremental, or why the whole window was fetched",
    ["outcome"],
)

#: An estimate of a kept series' overhead beyond its two rows (labels, objects), in bytes.
SERIES_OVERHEAD_BYTES = 600
#: An estimate of what a kept measurement costs per step of each kept series, in bytes: a Python float
#: and its list slot (32 bytes) for the series' pod and for its share of the arm's sum.
MEASUREMENT_BYTES_PER_VALUE = 64


@dataclass(frozen=True)
class CachePolicy:
    """How a process keeps windows: how far back it re-reads, how often it refetches all, how much it holds."""

    reread_steps: int = 3
    refresh_looks: int = 30
    refresh_steps: int = 120
    max_new_steps: int = 30
    max_entries: int = 1024
    max_bytes: int = 128 * 2**20

    def __post_init__(self) -> None:
        if self.reread_steps < 1 or self.refresh_looks < 1 or self.refresh_steps < 1 or self.max_new_steps < 0:
            raise ValueError("reread_steps, refresh_looks and refresh_steps must be at least 1, max_new_steps at"
                             " least 0")


@dataclass(frozen=True)
class _Entry:
    """One window's series, how many looks used it since it was last checked (a full fetch or a slice re-read),
    the first step the next slice re-reads, and what the caller built from them (once it kept it)."""

    grid: Grid
    looks: int
    nbytes: int
    checked: int = 0
    built: object = None


@dataclass(frozen=True)
class CachedSeries:
    """A look's series over its whole window, and what of the last look it may build on.

    ``fresh_from``: every step before it is exactly the last look's (an incremental look: the first re-read
    step that changed, else the first new step, or the window's steps when nothing changed; a full fetch:
    the first step that differs from what was kept, 0 when a series came or went).
    ``built``: what the caller built from the last look's series (None when nothing of it holds). An
    incremental look whose answer has the kept series gives the kept ``labels`` list itself, so that the
    caller can tell by identity that its label work still holds."""

    grid: Grid
    warnings: list[str]
    outcome: Outcome
    fresh_from: int = 0
    built: object = None
    kept_as: object = None  # the entry these series were kept as, which :meth:`WindowCache.keep` extends
    #: The first step this look read again that the last look had read too: an incremental look's first re-read
    #: step, a full fetch's ``fresh_from`` (0 for a window read for the first time).
    read_from: int = 0


def label_key(labels: Labels) -> LabelKey:
    return tuple(sorted(labels.items()))


def _entry(grid: Grid, looks: int, checked: int = 0) -> _Entry:
    nbytes = grid.values.nbytes + grid.present.nbytes + SERIES_OVERHEAD_BYTES * len(grid.labels)
    return _Entry(grid=grid, looks=looks, nbytes=nbytes, checked=checked)


def _with_built(entry: _Entry, built: object) -> _Entry:
    extra = entry.grid.values.size * MEASUREMENT_BYTES_PER_VALUE
    return replace(entry, built=built, nbytes=entry.nbytes + extra)


def _rows_of(kept: list[Labels], labels: list[Labels]) -> np.ndarray | None:
    """For each of ``labels``, the row of the same series in ``kept``; None when one is not kept."""
    if labels == kept:
        return np.arange(len(kept))
    where = {label_key(k): row for row, k in enumerate(kept)}
    rows = [where.get(label_key(k), -1) for k in labels]
    return None if -1 in rows else np.asarray(rows, dtype=np.int64)


def _matched(kept: Grid, again: Grid, start: int, stop: int | None) -> np.ndarray | None:
    """For each series of ``again``, its row in ``kept``; None when one is not kept, when a kept series that
    ``again`` lacks has samples in steps ``start`` to ``stop`` (None: the end), or when ``again``'s steps
    (from ``start``) are not exactly the kept ones."""
    rows = _rows_of(kept.labels, again.labels)
    if rows is None:
        return None  # a series not kept: a new pod or bucket, the whole window may have it
    if len(rows) < len(kept.labels):
        gone = np.ones(len(kept.labels), dtype=bool)
        gone[rows] = False
        if kept.present[gone, start:stop].any():
            return None  # samples we had in these steps are gone
    end = start + again.steps
    same = (np.array_equal(again.values, kept.values[rows, start:end])
            and np.array_equal(again.present, kept.present[rows, start:end]))
    return rows if same else None


def _merged(kept: Grid, first: int, fresh: Grid) -> Grid | None:
    """The kept steps before ``first`` joined to the answer from ``first`` on; None when the two disagree (a
    series not kept, one gone with samples in the re-read steps, or the oldest re-read step changed: history
    is not what was kept)."""
    oldest = Grid(fresh.labels, fresh.values[:, :1], fresh.present[:, :1])
    rows = _matched(kept, oldest, first, None)
    if rows is None:
        return None
    shape = (len(kept.labels), first + fresh.steps)
    values, present = np.empty(shape), np.empty(shape, dtype=bool)  # each element written once below
    values[:, :first], present[:, :first] = kept.values[:, :first], kept.present[:, :first]
    if len(rows) < len(kept.labels):
        values[:, first:], present[:, first:] = 0.0, False
    values[rows, first:], present[rows, first:] = fresh.values, fresh.present
    return Grid(kept.labels, values, present)


def _first_difference(kept: Grid, other: Grid, rows: np.ndarray | slice, start: int) -> int:
    """The first step from ``start`` on at which ``other`` (its ``rows``, in the order of ``kept``'s) is not
    exactly ``kept``; the shorter one's steps when none is."""
    through = min(kept.steps, other.steps)
    differs = ((other.values[rows, start:through] != kept.values[:, start:through])
               | (other.present[rows, start:through] != kept.present[:, start:through])).any(axis=0)
    return start + int(np.argmax(differs)) if differs.any() else through


def _agrees(kept: Grid, start: int, again: Grid) -> bool:
    """Whether steps ``start`` on of ``kept`` (as many as ``again`` has) are exactly ``again``, series by series."""
    return _matched(kept, again, start, start + again.steps) is not None


def _same_steps(kept: Grid, grid: Grid) -> int:
    """How many first steps of a full answer are exactly the kept ones (0 unless it has the same series)."""
    rows = _rows_of(grid.labels, kept.labels) if len(grid.labels) == len(kept.labels) else None
    return 0 if rows is None else _first_difference(kept, grid, rows, 0)


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

    def keep(self, query: str, window: Window, cached: CachedSeries, built: object) -> None:
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
            first = entry.grid.steps - self.policy.reread_steps
            tail = replace(window, start=window.start + first * window.step)
            fresh, warnings = fetch(tail)
            merged = None if warnings else _merged(entry.grid, first, fresh)
            looks, checked = entry.looks + 1, entry.checked
            if merged is not None and entry.looks >= self.policy.refresh_looks:  # a long window's periodic check
                checked = min(entry.checked, first - 1)
                stop = min(checked + self.policy.refresh_steps, first)
                again, warnings = fetch(replace(window, start=window.start + checked * window.step,
                                                end=window.start + stop * window.step))
                if warnings or not _agrees(entry.grid, checked, again):
                    merged = None
                looks, checked = 1, stop % first
            if merged is not None:
                kept = self._put(key, _entry(merged, looks, checked))
                # The first re-read step a late sample changed, else the first new step (the window's steps when
                # the answer changed nothing and brought no step: the window as the last look left it).
                fresh_from = _first_difference(entry.grid, merged, slice(None), first)
                return CachedSeries(merged, warnings, "incremental", fresh_from, entry.built, kept, read_from=first)
            reason = "partial" if warnings else "changed"
        grid, warnings = fetch(window)
        if warnings:
            self._drop(key)
            return CachedSeries(grid, warnings, reason or "new")
        kept = self._put(key, _entry(grid, 1))
        if entry is None:
            return CachedSeries(grid, warnings, "new", kept_as=kept)
        same = min(_same_steps(entry.grid, grid), window.steps - 1)
        return CachedSeries(grid, warnings, reason or "new", same, entry.built if same > 0 else None, kept, same)

    def _doubt(self, entry: _Entry | None, window: Window) -> Outcome | None:
        """Why this look must fetch the whole window (None: the kept steps can be used)."""
        if entry is None:
            return "new"
        if entry.looks >= self.policy.refresh_looks and entry.grid.steps <= self.policy.refresh_steps:
            return "refresh"  # no dearer than re-reading a slice of it
        grown = window.steps - entry.grid.steps
        if grown < 0 or grown > self.policy.max_new_steps or entry.grid.steps <= self.policy.reread_steps:
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
