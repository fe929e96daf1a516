"""A stable digest of a measurement: sha256 over its canonical JSON, metrics in name order.

The canonical JSON of a long window is most of a look's digest cost (1,440 steps, 35 buckets, 2+3
pods: 11 ms of float formatting), and a look repeats all but its newest steps. A ratio or histogram
metric's JSON is therefore put together from its skeleton (the metric with every per-step list
replaced by a marker, dumped by the model itself) and each per-step list's JSON, whose elements are
kept from the last look of the same metric as far as its values are equal and dumped only for the
rest. The bytes are the model's own ``model_dump_json()``, to the byte (tests/judging/test_digest.py);
other kinds are dumped whole. Memory is bounded by ``MAX_BYTES`` (per process).

The kept values are a copy of each list, whose counts are immutable floats, but a histogram's rows
are kept as the row lists themselves (a copy of each would be 10,000 more objects for the garbage
collector at 1,440 steps with pods, which cost more than the JSON saved): equal rows are found by
identity first, so a row changed *in place* after its digest would go unseen. Measurements are
frozen models and nothing changes their lists in place; a changed measurement is a new one.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from analyzer.judging.prefix_memo import REREAD
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
class _Kept:
    """One per-step list of a metric's last look: a copy of its values and each element's JSON."""

    values: list[Any]
    pieces: list[bytes]  # a row's without its brackets
    rows: bool  # a list of rows (histograms), else of counts

    @property
    def size(self) -> int:
        """Bytes held: the JSON pieces and two list slots per step (values and pieces)."""
        return sum(map(len, self.pieces)) + 16 * len(self.values)


class _Memo:
    """LRU of kept lists by (metric name, skeleton, list index), bounded in bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._kept: OrderedDict[tuple[str, bytes, int], tuple[_Kept, int]] = OrderedDict()
        self._bytes, self._max = 0, max_bytes
        self._lock = threading.Lock()

    def get(self, key: tuple[str, bytes, int]) -> _Kept | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            return found[0]

    def put(self, key: tuple[str, bytes, int], kept: _Kept) -> None:
        size = kept.size
        with self._lock:
            old = self._kept.pop(key, None)
            self._bytes -= old[1] if old else 0
            if size > self._max:
                return
            self._kept[key] = (kept, size)
            self._bytes += size
            while self._bytes > self._max:
                _, (_, freed) = self._kept.popitem(last=False)
                self._bytes -= freed

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0


#: The process's kept lists.
KEPT = _Memo()


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
        kept = _extended(values, KEPT.get(key))
        KEPT.put(key, kept)
        out += [b"[[", b"],[".join(kept.pieces), b"]]"] if kept.rows else [b"[", b",".join(kept.pieces), b"]"]
        out.append(parts[index + 1])
    return b"".join(out)


def _extended(values: list[Any], kept: _Kept | None) -> _Kept:
    """``values`` as kept pieces: the longest prefix equal to ``kept``'s (its newest steps may have been
    re-read), and the rest dumped anew."""
    same = 0
    if kept is not None:
        for length in range(min(len(kept.values), len(values)), max(len(kept.values) - REREAD - 2, -1), -1):
            if values[:length] == kept.values[:length]:
                same = length
                break
    fresh = values[same:]
    rows = bool(values) and isinstance(values[0], list)
    if not fresh:
        pieces: list[bytes] = []
    elif rows:
        pieces = _ROWS.dump_json(fresh)[2:-2].split(b"],[")  # each row's JSON without its brackets
    else:
        pieces = _SCALARS.dump_json(fresh)[1:-1].split(b",")
    copies = list(fresh)  # the row lists themselves, not copies: no garbage-collected object per row
    if kept is None or same == 0:
        return _Kept(copies, pieces, rows)
    return _Kept(kept.values[:same] + copies, kept.pieces[:same] + pieces, rows)
