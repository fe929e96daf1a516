"""Which rows of a look's grid make which counts: decided once per set of series, reused while it holds.

Everything :mod:`analyzer.sources.assemble` decides from labels alone depends only on the profile and
the answer's label sets, which rarely change between looks of a window: which part (metric, query, arm)
each row answers, which pod and bucket bound it counts for, the pods and shared bounds of each metric,
and what it notes about unusable pod names or buckets the arms do not share. A :class:`Layout` holds
those decisions, so that a look's counts are a few numpy operations on groups of rows (:class:`Groups`).

Sums keep the order of the series-by-series code they replace, so that every count is the same to the
last bit however it was built: a group's rows are added in row order starting from 0, and an arm's pods
in sorted order.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from pydantic import TypeAdapter, ValidationError

from analyzer.model import PodName
from analyzer.sources.grid import Labels
from analyzer.sources.queries import ARMS, Arm, HistogramQueries, QueryProfile, parse_le

K = TypeVar("K", bound=Hashable)
#: The rows that answer each (metric, query, arm) of one look.
Parts = Mapping[tuple[str, str, Arm], Sequence[int]]
_POD_NAME: TypeAdapter[str] = TypeAdapter(PodName)


@dataclass(frozen=True)
class Groups:
    """Rows added up into ``count`` groups, each group's rows in row order.

    ``layers[j]`` is (groups, rows): the j-th row of each group that has at least j + 1 rows, so that
    a layer's groups are distinct and one fancy-indexed addition adds it (one layer when every group
    is one series, as in a ``sum by (pod, le)`` answer)."""

    count: int
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    @classmethod
    def of(cls, keyed: Sequence[tuple[int, K]], order: Sequence[K]) -> Groups:
        """Group ``order.index(key)`` adds up the rows given with ``key`` (rows whose key is not in ``order``
        are left out)."""
        position = {key: g for g, key in enumerate(order)}
        layers: list[tuple[list[int], list[int]]] = []
        depth = [0] * len(order)
        for row, key in keyed:
            g = position.get(key)
            if g is None:
                continue
            if depth[g] == len(layers):
                layers.append(([], []))
            layers[depth[g]][0].append(g)
            layers[depth[g]][1].append(row)
            depth[g] += 1
        return cls(len(order), tuple((np.asarray(g, dtype=np.int64), np.asarray(r, dtype=np.int64))
                                     for g, r in layers))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """(count, steps): each group's rows of ``values`` added up from 0, 0 where a group has none."""
        out = np.zeros((self.count, values.shape[1]))
        for groups, rows in self.layers:
            out[groups] += values[rows]
        return out


def in_order(stack: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The sum of ``stack``'s first axis, added one after the other from 0 (numpy's ``sum`` may pair them)."""
    return np.add.accumulate(stack, axis=0)[-1] if len(stack) else np.zeros(shape)


@dataclass(frozen=True)
class RatioLayout:
    """A ratio metric's pods per arm (sorted; "" for series without a usable pod) and their rows."""

    pods: dict[Arm, list[str]]
    total: dict[Arm, Groups]
    events: dict[Arm, Groups]


@dataclass(frozen=True)
class HistogramLayout:
    """A histogram's bounds shared by both arms, each arm's pods, and the rows of each pod's buckets:
    group ``p * len(le) + b`` of ``cells[arm]`` is pod ``p``'s bucket ``b``."""

    le: list[float | str]  # as the measurement has them: "+Inf" for the last
    pods: dict[Arm, list[str]]
    cells: dict[Arm, Groups]


def _valid_pod(name: str) -> bool:
    try:
        _POD_NAME.validate_python(name)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class Layout:
    """What one set of series means for one profile: each metric's rows, groups and notes."""

    labels: list[Labels]
    parts: dict[tuple[str, str, Arm], np.ndarray]
    ratios: dict[str, RatioLayout]
    histograms: dict[str, HistogramLayout | None]  # None: no bounds shared by both arms with +Inf among them
    notes: dict[str, list[str]]

    @classmethod
    def of(cls, profile: QueryProfile, labels: list[Labels], parts: Parts) -> Layout:
        rows = {key: np.asarray(found, dtype=np.int64) for key, found in parts.items()}
        layout = cls(labels, rows, {}, {}, {})
        for name, queries in profile.metrics.items():
            notes = layout.notes.setdefault(name, [])
            if queries.kind == "ratio":
                layout.ratios[name] = layout._ratio(name, profile.pod_label, notes)
            elif queries.kind == "histogram":
                layout.histograms[name] = layout._histogram(name, queries, profile.pod_label, notes)
        return layout

    def _pods(self, name: str, queries: tuple[str, ...], label: str | None, notes: list[str]) -> list[str]:
        """Each row's pod, for the rows of ``queries``: its pod label when every series of the metric names a
        valid pod, else "" for all (noted)."""
        every = [int(row) for arm in ARMS for q in queries for row in self.parts[(name, q, arm)]]
        if label is None:
            return [""] * len(self.labels)
        if all(_valid_pod(pod) for pod in {self.labels[row].get(label, "") for row in every}):  # each name once
            return [self.labels[row].get(label, "") for row in range(len(self.labels))]
        notes.append(f"{name}: a series has no usable {label!r} label; judged without the per-pod breakdown")
        return [""] * len(self.labels)

    def _ratio(self, name: str, label: str | None, notes: list[str]) -> RatioLayout:
        pod = self._pods(name, ("total", "events"), label, notes)
        pods, total, events = {}, {}, {}
        for arm in ARMS:
            keyed = {q: [(int(row), pod[row]) for row in self.parts[(name, q, arm)]] for q in ("total", "events")}
            pods[arm] = sorted({key for q in keyed.values() for _, key in q})
            total[arm], events[arm] = Groups.of(keyed["total"], pods[arm]), Groups.of(keyed["events"], pods[arm])
        return RatioLayout(pods, total, events)

    def _histogram(self, name: str, queries: HistogramQueries, label: str | None,
                   notes: list[str]) -> HistogramLayout | None:
        pod = self._pods(name, ("buckets",), label, notes)
        keyed: dict[Arm, list[tuple[int, tuple[str, float]]]] = {}
        for arm in ARMS:
            keyed[arm] = []
            for row in self.parts[(name, "buckets", arm)]:
                try:
                    le = parse_le(self.labels[row].get("le", "nan"))
                except ValueError:
                    continue
                if not math.isnan(le):
                    keyed[arm].append((int(row), (pod[row], le * queries.le_scale)))
        present = [{le for _, (_, le) in found} for found in keyed.values() if found]
        if not present:
            return None
        bounds = sorted(set.intersection(*present))
        if len(present) == 2 and present[0] != present[1]:
            shared = len(bounds)
            notes.append(f"{name}: canary and stable have different buckets; judged on the {shared} they share")
        if len(bounds) < 2 or not math.isinf(bounds[-1]):
            return None
        pods = {arm: sorted({p for _, (p, _) in keyed[arm]}) for arm in ARMS}
        cells = {arm: Groups.of(keyed[arm], [(p, b) for p in pods[arm] for b in bounds]) for arm in ARMS}
        return HistogramLayout(["+Inf" if math.isinf(b) else b for b in bounds], pods, cells)
