"""Per-step lists of a measurement kept from the last look, with what was derived from them.

A look's measurement repeats all but its newest steps, and in the service the steps it kept are the
same Python objects (the window cache joins them to the new ones). What the judge derives step by
step from a per-step list — its array (:func:`steps_column`), the running sha256 of the array's
bytes behind the input digest (:mod:`analyzer.judging.digest`), arrays derived row by row such as
repaired buckets (:meth:`Column.derived`) — is kept per list, and a look takes it over for the
longest prefix whose values equal the kept ones — compared, not trusted: by identity first, then
by value, so a prefix of equal counts is found whether or not the objects are shared — and derives
only the rest, appended in place (:mod:`analyzer.judging.grown`). Prefixes down to ``REREAD`` + 1
steps shorter than the kept list are tried, since a look re-reads its newest steps.

Two limits of the comparison, both documented where it is used: a histogram's rows are kept by
reference (copying each would give the garbage collector thousands more objects), so a row changed
*in place* after it was kept goes unseen; and values compare as numbers, so a count that changed
only from 0.0 to -0.0 keeps what was derived from 0.0. Measurements are frozen models whose lists
nothing changes in place, and counts are ≥ 0 (``Count``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import numpy as np

from analyzer.judging.grown import Prefix, grown
from analyzer.judging.prefix_memo import REREAD
from analyzer.model import HistogramMetric, RatioMetric
from analyzer.stats.eprocess import FloatArray

T = TypeVar("T")


@dataclass(frozen=True)
class Kept(Generic[T]):
    """A per-step list's elements (a shallow copy) and what was derived from them, element by element."""

    values: list[Any]
    derived: T


class KeptLists(Generic[T]):
    """LRU of kept lists by key (what names the list: metric, arm, pod…), bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self._kept: OrderedDict[Hashable, tuple[Kept[T], int]] = OrderedDict()
        self._bytes, self._max = 0, max_bytes
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> Kept[T] | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, kept: Kept[T], size: int) -> None:
        """Keep ``kept`` (``size`` bytes, about) under ``key``, replacing what was kept there."""
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


def common_prefix(values: list[Any], kept: Kept[Any] | None) -> int:
    """Steps at the start of ``values`` equal to ``kept``'s, among the prefixes a re-read look can share:
    the whole kept list at once when it is a prefix (identity first: the cost of a pointer a step when the
    objects are shared), else one comparison of the shortest such prefix, then step by step up to the
    first difference."""
    if kept is None:
        return 0
    old = kept.values
    longest, shortest = min(len(old), len(values)), max(len(old) - REREAD - 1, 0)
    if longest == len(old) and (values == old if len(values) == longest else values[:longest] == old):
        return longest
    if shortest > longest or values[:shortest] != old[:shortest]:
        return 0
    same = shortest
    while same < longest and values[same] == old[same]:
        same += 1
    return same


#: A row-wise function of a list's array: row k of its result depends on row k of its argument alone.
PerStep = Callable[[FloatArray], FloatArray]


class Column:
    """One look's array of a per-step list, the running sha256 of its bytes after each of its last steps,
    and arrays derived from it row by row, each taken over from the last look's as far as its steps are equal.
    """

    def __init__(self, values: Prefix, same: int, hashes: dict[int, Any], previous: Column | None) -> None:
        self._values, self.same, self.hashes = values, same, hashes
        self._digests: dict[int, bytes] = {}
        self._derived: dict[str, Prefix] = {}
        self._previous = previous._derived if previous is not None else {}

    @property
    def array(self) -> FloatArray:
        """The list as float64, shaped (steps, width) for a list of rows, read-only."""
        return self._values.array

    @property
    def steps(self) -> int:
        return self._values.steps

    def digest(self, steps: int | None = None) -> bytes:
        """sha256 of the bytes (little-endian float64, row after row) of the array's first ``steps`` steps
        (all by default: one of its last ``REREAD`` + 2 prefixes, else KeyError)."""
        steps = self.steps if steps is None else steps
        found = self._digests.get(steps)
        if found is None:
            found = self._digests[steps] = bytes(self.hashes[steps].digest())
        return found

    def derived(self, name: str, per_step: PerStep) -> FloatArray:
        """``per_step(self.array)``, read-only; ``name`` names ``per_step`` among the list's derived arrays.
        Its rows for the steps the last look had the same are the last look's."""
        found = self._derived.get(name)
        if found is None:
            old = self._previous.get(name)
            keep = min(self.same, old.steps) if old is not None else 0
            fresh = np.asarray(per_step(self.array[keep:]), dtype=np.float64)
            found = old.extend(keep, fresh) if old is not None and keep else grown(fresh)
            self._derived[name] = found
        return found.array

    @property
    def nbytes(self) -> int:
        return self._values.nbytes + sum(d.nbytes for d in self._derived.values())


class Lists:
    """A metric's columns, and their prefixes' sha256s joined, by prefix length (one look's: computed once)."""

    def __init__(self, columns: tuple[Column, ...]) -> None:
        self.columns = columns
        self._named: dict[int, bytes | None] = {}

    def named(self, steps: int) -> bytes | None:
        """The sha256s of every column's first ``steps`` steps, joined; None when a column has no hash there."""
        if steps not in self._named:
            known = all(steps in c.hashes for c in self.columns)
            self._named[steps] = b"".join(c.digest(steps) for c in self.columns) if known else None
        return self._named[steps]


@dataclass(frozen=True)
class Origin:
    """The per-step lists a comparison's counts are made from — a metric's columns — with what names how
    they are made (``label``: which comparison of the metric) and the lists' step the counts' first step is.

    Its prefix keys name a prefix of the counts by the lists' running sha256s, with no pass over the
    window (:class:`analyzer.judging.prefix_memo.PrefixMemo` checks the inputs of a state it finds by them).
    """

    lists: Lists
    label: str
    start: int = 0

    def since(self, step: int) -> Origin:
        """The origin of the counts from their step ``step`` on."""
        return replace(self, start=self.start + step)

    def prefix_keys(self, salt: bytes, lengths: range) -> dict[int, bytes]:
        """For each prefix length L of the counts whose lists' prefix of ``start`` + L steps every column
        can name: BLAKE2b of ``salt``, the label, ``start``, L and those prefixes' sha256s."""
        keys: dict[int, bytes] = {}
        head = salt + f"|{self.label}|{self.start}|".encode()
        for steps in lengths:
            named = self.lists.named(self.start + steps)
            if named is not None:
                keys[steps] = hashlib.blake2b(head + f"{steps}|".encode() + named, digest_size=16).digest()
        return keys


def _hashes(array: FloatArray, same: int, kept: dict[int, Any]) -> dict[int, Any]:
    """Running sha256 states of ``array``'s bytes after each of its last ``REREAD`` + 2 steps, taken over from
    ``kept`` (the last look's, whose first ``same`` steps are this array's) where they cover equal steps."""
    steps = int(array.shape[0])
    start = max((n for n in kept if n <= same), default=0)
    running, done = (kept[start].copy(), start) if start else (hashlib.sha256(), 0)
    states: dict[int, Any] = {}
    for n in range(max(steps - REREAD - 1, 0), steps + 1):
        if n <= same and n in kept:
            states[n] = kept[n]
            continue
        if n < done:
            running, done = hashlib.sha256(), 0
        running.update(np.ascontiguousarray(array[done:n], dtype="<f8").data)
        done = n
        states[n] = running.copy()
    return states


#: Bytes the kept columns hold at most per process (a list's array counted twice, for what is derived from
#: it, and two list slots per step).
ARRAY_BYTES = 64 << 20
#: The process's kept columns, by what names the list (metric, arm, pod, bounds) and the row width.
ARRAYS: KeptLists[Column] = KeptLists(ARRAY_BYTES)


def list_key(name: str, metric: RatioMetric | HistogramMetric, *path: str) -> Hashable:
    """What names one of a metric's per-step lists among the kept columns: the metric's name, a histogram's
    bounds, the names of its pods (so that two rollouts judged in turn, whose metrics have the same names
    but other pods, keep a column each), and the list's path (the arm, or "pods", the arm and the pod; and
    a ratio arm's field)."""
    bounds = tuple(metric.le) if isinstance(metric, HistogramMetric) else ()
    pods = (tuple(metric.pods.canary), tuple(metric.pods.stable)) if metric.pods is not None else ()
    return (name, bounds, pods, *path)


def steps_column(key: Hashable, values: list[Any], width: int = 0) -> Column:
    """The :class:`Column` of ``values`` (``np.asarray(values, float64)``, shaped (steps, ``width``) for a list
    of rows): the steps the last look under ``key`` had the same are taken from its column, the rest
    converted (at 1,440 steps of 35 buckets, 0.8 ms a list converted whole) and appended."""
    kept = ARRAYS.get((key, width))
    same = common_prefix(values, kept)
    if kept is not None and same == len(values) == kept.derived.steps:  # the same steps again: the same column
        return kept.derived
    fresh = np.asarray(values[same:], dtype=np.float64)
    if width:
        fresh = fresh.reshape(-1, width)
    previous = kept.derived if kept is not None and same else None
    array = previous._values.extend(same, fresh) if previous is not None else grown(fresh)
    column = Column(array, same, _hashes(array.array, same, previous.hashes if previous else {}), previous)
    ARRAYS.put((key, width), Kept(list(values), column), 2 * column.nbytes + 16 * len(values))
    return column


def steps_array(key: Hashable, values: list[Any], width: int = 0) -> FloatArray:
    """:func:`steps_column`'s array."""
    return steps_column(key, values, width).array
