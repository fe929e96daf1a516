"""Per-step lists of a measurement kept from the last look, with what was derived from them.

A look's measurement repeats all but its newest steps, and in the service the steps it kept are the
same Python objects (the window cache joins them to the new ones). What the judge derives element by
element from a per-step list (its JSON for the digest, its array for the tests: :func:`steps_array`)
is kept per list,
and a look takes it over for the longest prefix whose values equal the kept ones — compared, not
trusted: by identity first, then by value, so a prefix of equal counts is found whether or not the
objects are shared — and derives only the rest. Prefixes down to ``REREAD`` + 1 steps shorter than
the kept list are tried, since a look re-reads its newest steps.

Two limits of the comparison, both documented where it is used: a histogram's rows are kept by
reference (copying each would give the garbage collector thousands more objects), so a row changed
*in place* after it was kept goes unseen; and values compare as numbers, so a count that changed
only from 0.0 to -0.0 keeps what was derived from 0.0. Measurements are frozen models whose lists
nothing changes in place, and counts are ≥ 0 (``Count``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from analyzer.judging.prefix_memo import REREAD
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
    """Steps at the start of ``values`` equal to ``kept``'s, among the prefixes a re-read look can share."""
    if kept is None:
        return 0
    longest = min(len(kept.values), len(values))
    for length in range(longest, max(len(kept.values) - REREAD - 2, -1), -1):
        if values[:length] == kept.values[:length]:
            return length
    return 0


#: Bytes the kept arrays hold at most per process (the arrays, and two list slots per step).
ARRAY_BYTES = 64 << 20
#: The process's kept arrays, by what names the list (metric, arm, pod, bounds) and the row width.
ARRAYS: KeptLists[FloatArray] = KeptLists(ARRAY_BYTES)


def steps_array(key: Hashable, values: list[Any], width: int = 0) -> FloatArray:
    """``np.asarray(values, float64)``, shaped (steps, ``width``) for a list of rows, read-only: the steps
    the last look under ``key`` had the same are taken from its array, the rest converted (at 1,440
    steps of 35 buckets, 0.8 ms a list converted whole)."""
    kept = ARRAYS.get((key, width))
    same = common_prefix(values, kept)
    fresh = np.asarray(values[same:], dtype=np.float64)
    if width:
        fresh = fresh.reshape(-1, width)
    array = fresh if kept is None or same == 0 else np.concatenate([kept.derived[:same], fresh])
    array.setflags(write=False)
    ARRAYS.put((key, width), Kept(list(values), array), array.nbytes + 16 * len(values))
    return array
