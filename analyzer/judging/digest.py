"""A stable digest of a measurement: sha256 over its canonical JSON, metrics in name order.

The canonical JSON of a long window is most of a look's digest cost (1,440 steps, 35 buckets, 2+3
pods: 11 ms of float formatting), and a look repeats all but its newest steps. A ratio or histogram
metric's JSON is therefore put together from its skeleton (the metric with every per-step list
replaced by a marker, dumped by the model itself) and each per-step list's JSON, whose elements are
kept from the last look of the same metric as far as its values are equal and dumped only for the
rest (:mod:`analyzer.judging.kept_lists`, whose two limits apply: rows are compared by identity
first, counts as numbers). The bytes are the model's own ``model_dump_json()``, to the byte
(tests/judging/test_digest.py); other kinds are dumped whole. Memory is bounded by ``MAX_BYTES``
(per process).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from analyzer.judging.kept_lists import Kept, KeptLists, common_prefix
from analyzer.model import HistogramMetric, Measurement, RatioMetric
from analyzer.model.measurement import Count, Rows

#: Bytes the kept lists hold at most per process: their elements' JSON and list slots (the row lists they
#: point to are the measurements' own: shared with the window cache in the service).
MAX_BYTES = 32 << 20
#: A count no valid measurement holds (counts are ≥ 0): marks where a per-step list goes in the skeleton.
_MARK = -1234567.25
_MARKS = re.compile(rb"\[\[-1234567\.25\]\]|\[-1234567\.25\]")
_SCALARS: TypeAdapter[list[float]] = TypeAdapter(list[Count])
_ROWS: TypeAdapter[list[list[float]]] = TypeAdapter(Rows)


def measurement_digest(measurement: Measurement) -> str:
    digest = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        digest.update(f"\n{name}=".encode())
        digest.update(_metric_json(name, measurement.metrics[name]))
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class Pieces:
    """Each element's JSON (a row's without its brackets) and whether the list holds rows."""

    json: list[bytes]
    rows: bool


#: The process's kept lists, by (metric name, skeleton, list index).
KEPT: KeptLists[Pieces] = KeptLists(MAX_BYTES)


def _step_lists(metric: RatioMetric | HistogramMetric) -> tuple[Any, list[list[Any]]]:
    """The metric with every per-step list replaced by a marker, and those lists in JSON order."""
    found: list[list[Any]] = []
    if isinstance(metric, RatioMetric):

        def arm(counts: Any) -> Any:
            found.extend([counts.total, counts.events])
            return counts.model_copy(update={"total": [_MARK], "events": [_MARK]})

        update: dict[str, Any] = {"canary": arm(metric.canary), "stable": arm(metric.stable)}
        if metric.pods is not None:
            update["pods"] = metric.pods.model_copy(update={
                side: {pod: arm(counts) for pod, counts in getattr(metric.pods, side).items()}
                for side in ("canary", "stable")
            })
        return metric.model_copy(update=update), found

    def rows(values: list[list[float]]) -> list[list[float]]:
        found.append(values)
        return [[_MARK]]

    update = {"canary": rows(metric.canary), "stable": rows(metric.stable)}
    if metric.pods is not None:
        update["pods"] = metric.pods.model_copy(update={
            side: {pod: rows(values) for pod, values in getattr(metric.pods, side).items()}
            for side in ("canary", "stable")
        })
    return metric.model_copy(update=update), found


def _metric_json(name: str, metric: Any) -> bytes:
    """``metric.model_dump_json()`` as bytes, from kept pieces where the last look's values are the same."""
    if not isinstance(metric, RatioMetric | HistogramMetric):
        return metric.model_dump_json().encode()  # type: ignore[no-any-return]
    marked, lists = _step_lists(metric)
    skeleton = marked.model_dump_json().encode()
    parts = _MARKS.split(skeleton)
    if len(parts) != len(lists) + 1:  # a marker seen elsewhere: never guess
        return metric.model_dump_json().encode()
    out = [parts[0]]
    for index, values in enumerate(lists):
        key = (name, skeleton, index)
        kept = KEPT.get(key)
        same = common_prefix(values, kept)
        pieces = _pieces(values, kept if same else None, same)
        KEPT.put(key, Kept(list(values), pieces), sum(map(len, pieces.json)) + 16 * len(values))
        out += [b"[[", b"],[".join(pieces.json), b"]]"] if pieces.rows else [b"[", b",".join(pieces.json), b"]"]
        out.append(parts[index + 1])
    return b"".join(out)


def _pieces(values: list[Any], kept: Kept[Pieces] | None, same: int) -> Pieces:
    """The elements' JSON: the first ``same`` from ``kept``, the rest dumped anew."""
    fresh = values[same:]
    rows = bool(values) and isinstance(values[0], list)
    if not fresh:
        json: list[bytes] = []
    elif rows:
        json = _ROWS.dump_json(fresh)[2:-2].split(b"],[")  # each row's JSON without its brackets
    else:
        json = _SCALARS.dump_json(fresh)[1:-1].split(b",")
    return Pieces(json if kept is None else kept.derived.json[:same] + json, rows)
