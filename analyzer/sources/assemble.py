"""One look's series → a measurement (arm counts and per-pod counts), and the metrics it cannot vouch for.

**Counts.** A profile with a ``pod_label`` queries by pod (``sum by (pod) (increase(x[$step]))``,
``sum by (pod, le)`` for buckets). Each pod's counts are kept full length, 0 at a step where the pod
had no sample (NaN, absent, negative: 0); a pod's events are clipped to its requests and its buckets
made cumulative (a running maximum along ``le``, as ``histogram_quantile`` repairs them); the arm's
counts are the sums over its pods, so arm and pods agree exactly. A pod whose events series is absent
(client libraries create the 5xx series on the first 5xx) has 0 events. Without a ``pod_label``, or
when a series lacks a usable pod name, the metric carries arm counts only (and says why in a note).

**Trust.** The judge must never pass or fail on missing data, so a metric is *unavailable* (judged
inconclusive, with the reason) when:

* an arm has no series at all for it while the other has (a wrong hash or selector, a dropped
  series), or neither arm has any;
* an arm's requests (or buckets) stop more than :data:`STALE_STEPS` steps before the window's end
  (its pods are gone, scraping stopped, or remote-write lags);
* one arm has no events series while the other arm counted events in the window. An events series
  absent on *both* arms is a service without errors (zeros); absent on one arm only, it may be a
  counter not created yet — or a dropped series, which would pass a failing canary (or fail a healthy
  one against a stable whose errors vanished). The safe reading is "cannot tell", and it costs one
  thing: a stable that has never served an error cannot be compared with a canary that does, until
  the service pre-creates its 5xx series at zero (Prometheus' own advice for counters).

A partial answer (a ``warnings`` entry, e.g. Thanos' or Mimir's partial response) makes every metric
of the look unavailable; that is decided by the caller, which sees the whole answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.model import Measurement
from analyzer.model.steps import joined
from analyzer.sources.gauges import gauge_metric
from analyzer.sources.grid import Grid
from analyzer.sources.layout import HistogramLayout, Layout, RatioLayout, in_order
from analyzer.sources.queries import ARMS, Arm, HistogramQueries, QueryProfile, RatioQueries, Target

#: How many steps an arm's newest sample may lag the window's end before its data counts as stale.
STALE_STEPS = 2

#: Each arm with the other one.
_PAIRS: tuple[tuple[Arm, Arm], ...] = (("canary", "stable"), ("stable", "canary"))


@dataclass(frozen=True)
class Series:
    """One answer series on the window's steps (a row of a :class:`~analyzer.sources.grid.Grid`)."""

    labels: dict[str, str]
    values: np.ndarray  # per step; 0 where there is no sample, or it is NaN or negative
    present: np.ndarray  # per step; True where a finite sample exists

    @property
    def last_step(self) -> int:
        """The index of the newest step with a sample, -1 if none."""
        found = np.flatnonzero(self.present)
        return int(found[-1]) if found.size else -1


#: The series of each (metric, query, arm) of one look (what :mod:`analyzer.sources.gauges` reads).
Parts = Mapping[tuple[str, str, Arm], Sequence[Series]]


@dataclass
class Fetched:
    """A measurement, what the source noticed while building it, and the metrics it cannot vouch for."""

    measurement: Measurement
    notes: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why its data cannot be judged
    #: Every step before this one is exactly the same target's last look's in this process (0: none is):
    #: only the steps from here on need storing again.
    fresh_from: int = 0
    #: The first step read from Prometheus again after a kept look of it (an incremental look's first re-read
    #: step); 0 when the look read its whole window for the first time.
    read_from: int = 0


def _ratio(layout: RatioLayout, values: np.ndarray) -> dict[str, Any]:
    """A ratio metric's counts over ``values``' steps: each pod's events clipped to its requests, arms summed."""
    steps = values.shape[1]
    data: dict[str, Any] = {"kind": "ratio"}
    pods: dict[str, dict[str, dict[str, list[float]]]] = {}
    for arm in ARMS:
        total = layout.total[arm].sums(values)
        events = np.minimum(layout.events[arm].sums(values), total)
        data[arm] = {"total": in_order(total, (steps,)).tolist(), "events": in_order(events, (steps,)).tolist()}
        named = zip(layout.pods[arm], total.tolist(), events.tolist(), strict=True)
        pods[arm] = {pod: {"total": t, "events": e} for pod, t, e in named if pod}
    if any(pods.values()):
        data["pods"] = pods
    return data


def _histogram(layout: HistogramLayout, values: np.ndarray) -> dict[str, Any]:
    """A histogram's counts over ``values``' steps: each pod's buckets made cumulative, arms summed."""
    steps, bounds = values.shape[1], len(layout.le)
    data: dict[str, Any] = {"kind": "histogram", "le": list(layout.le)}
    pods: dict[str, dict[str, list[list[float]]]] = {}
    for arm in ARMS:
        cells = layout.cells[arm].sums(values).reshape(len(layout.pods[arm]), bounds, steps).transpose(0, 2, 1)
        matrices = np.maximum.accumulate(cells, axis=2)  # (pods, steps, bounds)
        data[arm] = in_order(matrices, (steps, bounds)).tolist()
        pods[arm] = {pod: rows for pod, rows in zip(layout.pods[arm], matrices.tolist(), strict=True) if pod}
    if any(pods.values()):
        data["pods"] = pods
    return data


def _arm(target: Target, arm: Arm) -> str:
    return f"the {arm} arm (hash {target.hash_of(arm)!r})"


def _doubts(name: str, queries: RatioQueries | HistogramQueries, profile: QueryProfile, target: Target,
            layout: Layout, grid: Grid, step_seconds: int) -> list[str]:
    """Why this metric's data cannot be judged over the whole window (empty when it can)."""
    names = ("total", "events") if queries.kind == "ratio" else ("buckets",)
    has = {arm: any(len(layout.parts[(name, q, arm)]) for q in names) for arm in ARMS}
    where = f"in namespace {target.namespace!r} (profile {profile.name})"
    if not any(has.values()):
        return [
            f"no series for either arm (canary hash {target.canary!r}, stable hash {target.stable!r})"
            f" {where}; check the hashes and the profile's selectors"
        ]
    doubts = [
        f"no series for the {arm} hash {target.hash_of(arm)!r} {where} while the {other} has them;"
        f" check the {arm} hash and the profile's selector"
        for arm, other in _PAIRS
        if not has[arm]
    ]
    if doubts:
        return doubts
    main = "total" if queries.kind == "ratio" else "buckets"
    for arm in ARMS:
        rows = layout.parts[(name, main, arm)]
        if not len(rows):
            doubts.append(f"{_arm(target, arm)} has events but no requests series")
            continue
        behind = grid.steps - 1 - grid.last_step(rows)
        if behind > STALE_STEPS:
            doubts.append(
                f"{_arm(target, arm)}: its data ends {behind} steps ({behind * step_seconds} s) before the"
                f" window's end (stale: pods gone, scraping stopped or lagging)"
            )
    if queries.kind == "ratio":
        for arm, other in _PAIRS:
            if len(layout.parts[(name, "events", arm)]):
                continue
            counted = sum((float(grid.values[row].sum()) for row in layout.parts[(name, "events", other)]), 0.0)
            if counted > 0:
                doubts.append(
                    f"{_arm(target, arm)} has no events series while the {other} counted {counted:g} events in the"
                    f" window: the {arm}'s counter may be dropped, or not created yet; comparing would guess"
                )
    return doubts


def assemble(
    profile: QueryProfile,
    target: Target,
    layout: Layout,
    grid: Grid,
    step_seconds: int,
    warnings: Sequence[str] = (),
    kept: Measurement | None = None,
    fresh_from: int = 0,
) -> Fetched:
    """The measurement of one look, with the reasons its metrics cannot be judged, from its grid.

    ``layout``: what the grid's rows are (:meth:`~analyzer.sources.layout.Layout.of` its labels).
    ``kept``: the last look's measurement, whose first ``fresh_from`` steps were built from exactly these
    rows' first steps (:class:`~analyzer.sources.cache.CachedSeries`). The counts are then built and
    validated only from ``fresh_from`` on and joined to those steps; whatever does not fit (another metric,
    pod or bound, a step the new steps' validation refuses) is built and validated again in full, whose
    error names the step in the window."""
    if kept is not None and 0 < fresh_from < grid.steps:
        try:
            return _assemble(profile, target, layout, grid, step_seconds, warnings, (kept, fresh_from))
        except ValueError:  # pydantic's ValidationError included
            pass
    return _assemble(profile, target, layout, grid, step_seconds, warnings, None)


def _gauge_parts(name: str, layout: Layout, grid: Grid) -> Parts:
    """A gauge metric's rows as series over the whole window."""
    rows = {arm: layout.parts[(name, "value", arm)] for arm in ARMS}
    return {
        (name, "value", arm): [Series(layout.labels[r], grid.values[r], grid.present[r]) for r in rows[arm]]
        for arm in ARMS
    }


def _assemble(
    profile: QueryProfile, target: Target, layout: Layout, grid: Grid, step_seconds: int, warnings: Sequence[str],
    extend: tuple[Measurement, int] | None,
) -> Fetched:
    """:func:`assemble`, in full or (``extend``: the kept measurement and the first fresh step) from the first
    fresh step on. What the metrics cannot vouch for is always judged over the whole window."""
    values = grid.values[:, extend[1]:] if extend is not None else grid.values
    notes: list[str] = []
    metrics: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    partial = (
        "Prometheus flagged its answer as partial or doubtful: " + "; ".join(w[:300] for w in warnings[:3])
        if warnings
        else None
    )
    for name, queries in profile.metrics.items():
        if queries.kind == "gauge":  # per-pod values, not counts: analyzer.sources.gauges
            parts = _gauge_parts(name, layout, grid)
            built, doubts = gauge_metric(name, profile, target, parts, grid.steps, STALE_STEPS, notes)
        else:
            notes.extend(layout.notes[name])
            if queries.kind == "ratio":
                built = _ratio(layout.ratios[name], values)
            else:
                histogram = layout.histograms[name]
                built = _histogram(histogram, values) if histogram is not None else None
            doubts = _doubts(name, queries, profile, target, layout, grid, step_seconds)
        if built is not None:
            metrics[name] = built
        elif not doubts:
            doubts = ["the buckets lack le=+Inf or a finite bound shared by both arms"]
        if partial:
            doubts.insert(0, partial)
        if doubts:
            unavailable[name] = "; ".join(doubts)
    measurement = Measurement.model_validate({"step_seconds": step_seconds, "metrics": metrics})
    if extend is None:
        return Fetched(measurement=measurement, notes=notes, unavailable=unavailable)
    measurement = _extended(extend[0], extend[1], measurement)
    return Fetched(measurement=measurement, notes=notes, unavailable=unavailable, fresh_from=extend[1])


def _counts(measurement: Measurement) -> Measurement:
    """The measurement without its gauges."""
    counted = {name: data for name, data in measurement.metrics.items() if data.kind != "gauge"}
    return measurement.model_copy(update={"metrics": counted})


def _extended(kept: Measurement, first: int, fresh: Measurement) -> Measurement:
    """The kept counts' first ``first`` steps joined to the fresh steps' counts (gauges: ``fresh`` has them
    whole); ValueError when the kept measurement has other count metrics, bounds or pods."""
    whole = joined(_counts(kept), _counts(fresh), through=first).metrics
    return fresh.model_copy(update={"metrics": {name: whole.get(name, data) for name, data in fresh.metrics.items()}})
