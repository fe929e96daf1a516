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

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from pydantic import TypeAdapter, ValidationError

from analyzer.model import Measurement, PodName
from analyzer.model.steps import joined, steps_between
from analyzer.sources.gauges import gauge_metric
from analyzer.sources.queries import ARMS, Arm, HistogramQueries, QueryProfile, RatioQueries, Target, parse_le

#: How many steps an arm's newest sample may lag the window's end before its data counts as stale.
STALE_STEPS = 2

#: Each arm with the other one.
_PAIRS: tuple[tuple[Arm, Arm], ...] = (("canary", "stable"), ("stable", "canary"))

K = TypeVar("K", bound=Hashable)
_POD_NAME: TypeAdapter[str] = TypeAdapter(PodName)


@dataclass(frozen=True)
class Series:
    """One answer series on the window's steps."""

    labels: dict[str, str]
    values: np.ndarray  # per step; 0 where there is no sample, or it is NaN or negative
    present: np.ndarray  # per step; True where a finite sample exists

    @property
    def last_step(self) -> int:
        """The index of the newest step with a sample, -1 if none."""
        found = np.flatnonzero(self.present)
        return int(found[-1]) if found.size else -1


#: The series of each (metric, query, arm) of one look.
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


def _valid_pod(name: str) -> bool:
    try:
        _POD_NAME.validate_python(name)
    except ValidationError:
        return False
    return True


def _sum_by(series: Sequence[Series], key: Callable[[Series], K | None], steps: int) -> dict[K, np.ndarray]:
    """Per-step values summed by ``key`` (series whose key is None are left out)."""
    sums: dict[K, np.ndarray] = {}
    for s in series:
        k = key(s)
        if k is not None:
            sums[k] = sums.get(k, np.zeros(steps)) + s.values
    return sums


class _Builder:
    """Builds one look's metrics from its parts (noting what it repaired) and says what it cannot vouch for."""

    def __init__(self, profile: QueryProfile, target: Target, parts: Parts, steps: int, step_seconds: int) -> None:
        self.profile, self.target, self.parts = profile, target, parts
        self.steps, self.step_seconds = steps, step_seconds
        self.notes: list[str] = []

    def _arm(self, arm: Arm) -> str:
        return f"the {arm} arm (hash {self.target.hash_of(arm)!r})"

    def _pod_key(self, name: str, queries: tuple[str, ...]) -> Callable[[Series], str]:
        """How series are grouped: by their pod, when every series of the metric names a valid one, else all as one."""
        label = self.profile.pod_label
        every = [s for arm in ARMS for q in queries for s in self.parts[(name, q, arm)]]
        if label is None:
            return lambda _: ""
        if all(_valid_pod(pod) for pod in {s.labels.get(label, "") for s in every}):  # each name once
            return lambda s: s.labels[label]
        self.notes.append(f"{name}: a series has no usable {label!r} label; judged without the per-pod breakdown")
        return lambda _: ""

    def ratio(self, name: str) -> dict[str, Any]:
        pod = self._pod_key(name, ("total", "events"))
        zeros = np.zeros(self.steps)
        data: dict[str, Any] = {"kind": "ratio"}
        pods: dict[str, dict[str, dict[str, list[float]]]] = {}
        for arm in ARMS:
            total = _sum_by(self.parts[(name, "total", arm)], pod, self.steps)
            events = _sum_by(self.parts[(name, "events", arm)], pod, self.steps)
            per_pod = {}
            for key in total.keys() | events.keys():
                requests = total.get(key, zeros)
                per_pod[key] = (requests, np.minimum(events.get(key, zeros), requests))
            data[arm] = {
                "total": sum((t for t, _ in per_pod.values()), zeros).tolist(),
                "events": sum((e for _, e in per_pod.values()), zeros).tolist(),
            }
            pods[arm] = {k: {"total": t.tolist(), "events": e.tolist()} for k, (t, e) in sorted(per_pod.items()) if k}
        if any(pods.values()):
            data["pods"] = pods
        return data

    def histogram(self, name: str, queries: HistogramQueries) -> dict[str, Any] | None:
        pod = self._pod_key(name, ("buckets",))

        def bucket(s: Series) -> tuple[str, float] | None:
            try:
                le = parse_le(s.labels.get("le", "nan"))
            except ValueError:
                return None
            return None if math.isnan(le) else (pod(s), le * queries.le_scale)

        per_arm = {arm: _sum_by(self.parts[(name, "buckets", arm)], bucket, self.steps) for arm in ARMS}
        present = [{le for _, le in b} for b in per_arm.values() if b]
        if not present:
            return None
        bounds = sorted(set.intersection(*present))
        if len(present) == 2 and present[0] != present[1]:
            shared = len(bounds)
            self.notes.append(f"{name}: canary and stable have different buckets; judged on the {shared} they share")
        if len(bounds) < 2 or not math.isinf(bounds[-1]):
            return None
        zeros = np.zeros(self.steps)
        data: dict[str, Any] = {"kind": "histogram", "le": ["+Inf" if math.isinf(b) else b for b in bounds]}
        pods: dict[str, dict[str, list[list[float]]]] = {}
        for arm, buckets in per_arm.items():
            matrices = {
                key: np.maximum.accumulate(np.column_stack([buckets.get((key, b), zeros) for b in bounds]), axis=1)
                for key in sorted({key for key, _ in buckets})
            }
            data[arm] = sum(matrices.values(), np.zeros((self.steps, len(bounds)))).tolist()
            pods[arm] = {key: rows.tolist() for key, rows in matrices.items() if key}
        if any(pods.values()):
            data["pods"] = pods
        return data

    def doubts(self, name: str, queries: RatioQueries | HistogramQueries) -> list[str]:
        """Why this metric's data cannot be judged (empty when it can)."""
        names = ("total", "events") if queries.kind == "ratio" else ("buckets",)
        has = {arm: any(self.parts[(name, q, arm)] for q in names) for arm in ARMS}
        where = f"in namespace {self.target.namespace!r} (profile {self.profile.name})"
        if not any(has.values()):
            return [
                f"no series for either arm (canary hash {self.target.canary!r}, stable hash {self.target.stable!r})"
                f" {where}; check the hashes and the profile's selectors"
            ]
        doubts = [
            f"no series for the {arm} hash {self.target.hash_of(arm)!r} {where} while the {other} has them;"
            f" check the {arm} hash and the profile's selector"
            for arm, other in _PAIRS
            if not has[arm]
        ]
        if doubts:
            return doubts
        main = "total" if queries.kind == "ratio" else "buckets"
        for arm in ARMS:
            series = self.parts[(name, main, arm)]
            if not series:
                doubts.append(f"{self._arm(arm)} has events but no requests series")
                continue
            behind = self.steps - 1 - max(s.last_step for s in series)
            if behind > STALE_STEPS:
                doubts.append(
                    f"{self._arm(arm)}: its data ends {behind} steps ({behind * self.step_seconds} s) before the"
                    f" window's end (stale: pods gone, scraping stopped or lagging)"
                )
        if queries.kind == "ratio":
            for arm, other in _PAIRS:
                counted = sum((float(s.values.sum()) for s in self.parts[(name, "events", other)]), 0.0)
                if not self.parts[(name, "events", arm)] and counted > 0:
                    doubts.append(
                        f"{self._arm(arm)} has no events series while the {other} counted {counted:g} events in the"
                        f" window: the {arm}'s counter may be dropped, or not created yet; comparing would guess"
                    )
        return doubts


def assemble(
    profile: QueryProfile,
    target: Target,
    parts: Parts,
    steps: int,
    step_seconds: int,
    warnings: Sequence[str] = (),
    kept: Measurement | None = None,
    fresh_from: int = 0,
) -> Fetched:
    """The measurement of one look, with the reasons its metrics cannot be judged, from the series of its parts.

    ``kept``: the last look's measurement, whose first ``fresh_from`` steps were built from exactly these
    series' first steps (:class:`~analyzer.sources.cache.CachedSeries`). The counts are then built and
    validated only from ``fresh_from`` on and joined to those steps; whatever does not fit (another metric,
    pod or bound, a step the new steps' validation refuses) is built and validated again in full, whose
    error names the step in the window."""
    if kept is not None and 0 < fresh_from < steps:
        try:
            return _assemble(profile, target, parts, steps, step_seconds, warnings, (kept, fresh_from))
        except ValueError:  # pydantic's ValidationError included
            pass
    return _assemble(profile, target, parts, steps, step_seconds, warnings, None)


def _tail(parts: Parts, first: int) -> Parts:
    """The parts' series from step ``first`` on."""
    return {key: [Series(s.labels, s.values[first:], s.present[first:]) for s in kept] for key, kept in parts.items()}


def _assemble(
    profile: QueryProfile, target: Target, parts: Parts, steps: int, step_seconds: int, warnings: Sequence[str],
    extend: tuple[Measurement, int] | None,
) -> Fetched:
    """:func:`assemble`, in full or (``extend``: the kept measurement and the first fresh step) from the first
    fresh step on. What the metrics cannot vouch for is always judged over the whole window."""
    builder = _Builder(profile, target, parts, steps, step_seconds)
    counting = builder
    if extend is not None:  # counts of the fresh steps only, noting what the whole window would note
        counting = _Builder(profile, target, _tail(parts, extend[1]), steps - extend[1], step_seconds)
        counting.notes = builder.notes
    metrics: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    partial = (
        "Prometheus flagged its answer as partial or doubtful: " + "; ".join(w[:300] for w in warnings[:3])
        if warnings
        else None
    )
    for name, queries in profile.metrics.items():
        if queries.kind == "gauge":  # per-pod values, not counts: analyzer.sources.gauges
            built, doubts = gauge_metric(name, profile, target, parts, steps, STALE_STEPS, builder.notes)
        else:
            built = counting.ratio(name) if queries.kind == "ratio" else counting.histogram(name, queries)
            doubts = builder.doubts(name, queries)
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
        return Fetched(measurement=measurement, notes=builder.notes, unavailable=unavailable)
    measurement = _extended(extend[0], extend[1], measurement)
    return Fetched(measurement=measurement, notes=builder.notes, unavailable=unavailable, fresh_from=extend[1])


def _counts(measurement: Measurement) -> Measurement:
    """The measurement without its gauges."""
    counted = {name: data for name, data in measurement.metrics.items() if data.kind != "gauge"}
    return measurement.model_copy(update={"metrics": counted})


def _extended(kept: Measurement, first: int, fresh: Measurement) -> Measurement:
    """The kept counts' first ``first`` steps joined to the fresh steps' counts (gauges: ``fresh`` has them
    whole); ValueError when the kept measurement has other count metrics, bounds or pods."""
    whole = joined(_counts(steps_between(kept, 0, first)), _counts(fresh)).metrics
    return fresh.model_copy(update={"metrics": {name: whole.get(name, data) for name, data in fresh.metrics.items()}})
