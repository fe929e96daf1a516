"""Steps of a validated measurement cut and joined without validating again.

Every check of a :class:`~analyzer.model.Measurement` is per step (events within requests, buckets
cumulative, pods summing to their arm) or of lengths that cutting and joining keep equal, so a run of
steps cut from valid data is valid, and so is a join of two valid measurements with the same metrics,
bounds and pods. An incremental look joins the steps it kept to the few it validated anew, and the store
keeps a window's steps in chunks: neither pays for validating the whole window again at every look.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from analyzer.model.measurement import HistogramMetric, Measurement, MetricData, RatioArm, RatioMetric

#: Change one per-step list of a metric (named by its path, e.g. ``pods.canary.web-1.total``).
_StepChange = Callable[[str, list[Any]], list[Any]]


def _per_step(metric: MetricData, change: _StepChange) -> MetricData:
    """``metric`` with each of its per-step lists replaced by ``change(path, values)``, without validating."""
    update: dict[str, Any]
    if isinstance(metric, RatioMetric):

        def arm(path: str, counts: RatioArm) -> RatioArm:
            totals, events = change(f"{path}.total", counts.total), change(f"{path}.events", counts.events)
            return counts.model_copy(update={"total": totals, "events": events})

        update = {side: arm(side, getattr(metric, side)) for side in ("canary", "stable")}
        if metric.pods is not None:
            update["pods"] = metric.pods.model_copy(update={
                side: {pod: arm(f"pods.{side}.{pod}", counts) for pod, counts in getattr(metric.pods, side).items()}
                for side in ("canary", "stable")
            })
    elif isinstance(metric, HistogramMetric):
        update = {side: change(side, getattr(metric, side)) for side in ("canary", "stable")}
        if metric.pods is not None:
            update["pods"] = metric.pods.model_copy(update={
                side: {pod: change(f"pods.{side}.{pod}", rows) for pod, rows in getattr(metric.pods, side).items()}
                for side in ("canary", "stable")
            })
    else:
        update = {
            side: {pod: change(f"{side}.{pod}", values) for pod, values in getattr(metric, side).items()}
            for side in ("canary", "stable")
        }
    return metric.model_copy(update=update)


def _step_lists(metric: MetricData) -> dict[str, list[Any]]:
    """Every per-step list of ``metric`` by its path."""
    found: dict[str, list[Any]] = {}
    _per_step(metric, lambda path, values: found.setdefault(path, values))
    return found


def steps_between(measurement: Measurement, start: int, stop: int) -> Measurement:
    """Steps ``start`` to ``stop`` (exclusive) of a validated measurement, without validating again."""

    def cut(_: str, values: list[Any]) -> list[Any]:
        return values[start:stop]

    metrics = {name: _per_step(data, cut) for name, data in measurement.metrics.items()}
    return measurement.model_copy(update={"metrics": metrics})


def _same_shape(name: str, metric: MetricData, other: MetricData) -> dict[str, list[Any]]:
    """``other``'s per-step lists by path; ValueError unless it has ``metric``'s kind, bounds and pods."""
    tails = _step_lists(other)
    bounds = {tuple(m.le) for m in (metric, other) if isinstance(m, HistogramMetric)}
    if metric.kind != other.kind or len(bounds) > 1 or _step_lists(metric).keys() != tails.keys():
        raise ValueError(f"{name}: the two measurements differ in kind, buckets or pods")
    return tails


def joined(earlier: Measurement, later: Measurement, through: int | None = None) -> Measurement:
    """``earlier``'s steps (its first ``through`` of them; None: all) followed by ``later``'s, both validated,
    without validating again: one copy of each list, however long ``earlier`` is.

    Raises ValueError unless both have the same step, metrics, kinds, bounds and pods: then each step of
    the result is a step of one of them, and the result is as valid as they are."""
    if earlier.step_seconds != later.step_seconds or list(earlier.metrics) != list(later.metrics):
        raise ValueError("the two measurements differ in their step or metrics")
    metrics: dict[str, MetricData] = {}
    for name, metric in earlier.metrics.items():
        tails = _same_shape(name, metric, later.metrics[name])

        def join(path: str, values: list[Any], tails: dict[str, list[Any]] = tails) -> list[Any]:
            return (values if through is None else values[:through]) + tails[path]

        metrics[name] = _per_step(metric, join)
    return earlier.model_copy(update={"metrics": metrics})


def from_chunks(chunks: Mapping[int, Any], size: int, steps: int) -> Measurement:
    """The first ``steps`` steps of a measurement kept as runs of ``size`` steps (chunk ``k``: steps ``k * size``
    on; each chunk a measurement's JSON, validated here). Raises ValueError (pydantic's ValidationError
    included) when a chunk is missing, short or does not join the others."""
    if sorted(chunks) != list(range(len(chunks))) or not chunks:
        raise ValueError(f"the chunks {sorted(chunks)} are not a run from 0")
    pieces = [Measurement.model_validate(chunks[k]) for k in range(len(chunks))]
    lengths = [_steps(piece) for piece in pieces]
    if any(n != size for n in lengths[:-1]) or sum(lengths) < steps:
        raise ValueError(f"chunks of {lengths} steps do not make {steps} steps in runs of {size}")
    return steps_between(functools.reduce(joined, pieces), 0, steps)


def _steps(measurement: Measurement) -> int:
    return max((data.steps for data in measurement.metrics.values()), default=0)
