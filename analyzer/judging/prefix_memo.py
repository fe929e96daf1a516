"""A bounded, content-addressed memo of prequential computations, keyed by the digest of their input prefix.

Argo looks at a growing window once a minute, and almost every per-step quantity of the judge at
step k depends only on steps ≤ k (the e-processes' cumulative sums, their paths). A look whose
first L steps hold the same inputs as an earlier look's can therefore resume from that look's state
after step L and compute only its new steps. The memo finds such a state by content alone: the key
is a BLAKE2b digest of the inputs' first L rows (and a salt naming the computation and its fixed
parameters), tried for L = K, K-1, …, K - ``REREAD`` - 1, since a look re-reads its newest steps
(late samples change them). Nothing couples it to the service: a hit and a miss give the same
result, to the last bit, which tests/judging/test_resumed.py and test_look_sequence.py check.

Memory is bounded by ``MAX_BYTES`` (the arrays the states hold, counted once per state) and
``MAX_STATES``, least recently used first out. A 1,440-step comparison's state is about 1.5 MiB
(the (129 grid points × steps) log-likelihood), a 30-step one 31 KiB.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

#: Newest steps a look may have re-read with new values: states are kept after each of the last
#: REREAD + 1 steps of a look, and a look tries prefixes down to K - REREAD - 1 (one step newer).
REREAD = 3
#: Bytes of state arrays the memo holds at most (per process).
MAX_BYTES = 128 << 20
#: States the memo holds at most (per process).
MAX_STATES = 4096

S = TypeVar("S")
#: The per-step inputs a state was computed from, kept with it when it is found by its lists' keys.
Inputs = tuple[NDArray[np.float64], ...] | None


@dataclass(frozen=True)
class Entry(Generic[S]):
    """A state, the number of leading steps it covers, and (when it was found by its lists' keys) the
    per-step inputs it was computed from."""

    state: S
    steps: int
    inputs: Inputs = None


#: The keys of a look's prefixes by the lists its inputs come from: (salt, prefix lengths) → {length: key}
#: (:meth:`analyzer.judging.kept_lists.Origin.prefix_keys`); lengths it cannot key are left out.
PrefixKeys = Callable[[bytes, range], dict[int, bytes]]


class PrefixMemo(Generic[S]):
    """LRU of states by prefix digest; one state answers for several prefix lengths of one look."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_states: int = MAX_STATES) -> None:
        self._max_bytes, self._max_states = max_bytes, max_states
        self._states: OrderedDict[int, tuple[S, int, Inputs]] = OrderedDict()  # id → (state, bytes, inputs), oldest 1st
        self._keys: dict[bytes, tuple[int, int]] = {}  # digest → (state id, steps)
        self._bytes = 0
        self._next = 0
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
            self._keys.clear()
            self._bytes = 0

    def longest(self, digests: dict[int, bytes]) -> Entry[S] | None:
        """The state of the longest prefix whose digest is known (``digests``: steps → digest)."""
        with self._lock:
            for steps in sorted(digests, reverse=True):
                found = self._keys.get(digests[steps])
                if found is not None and found[0] in self._states:
                    self._states.move_to_end(found[0])
                    state, _, inputs = self._states[found[0]]
                    return Entry(state, found[1], inputs)
        return None

    def resume(
        self,
        columns: Sequence[NDArray[np.float64]],
        salt: bytes,
        compute: Callable[[Entry[S] | None], tuple[S, int]],
        keys: PrefixKeys | None = None,
    ) -> S:
        """``compute``'s state (and its size in bytes) from the state of the longest known prefix of the
        per-step ``columns`` (None: from scratch), kept for the next look under this look's prefixes.

        The prefixes are named by the digest of the columns' rows, or, given ``keys``, by the lists the
        columns come from (no pass over the window): a state found so is used only as far as its inputs
        are the columns' first rows, compared (a key names the lists, not how the columns were made).
        """
        steps = int(columns[0].size)
        lengths = lookup_lengths(steps)
        digests = keys(salt, lengths) if keys is not None else prefix_digests(columns, salt, lengths)
        known = self.longest(digests)
        checked = keys is not None or (known is not None and known.inputs is not None)
        if known is not None and checked and not _same_rows(columns, known.inputs, known.steps):
            known = None
        state, size = compute(known)
        if steps:
            inputs = tuple(columns) if keys is not None else None
            extra = sum(c.nbytes for c in inputs) if inputs is not None else 0
            self.put({n: digests[n] for n in kept_lengths(steps) if n in digests}, state, size + extra, inputs)
        return state

    def put(self, digests: dict[int, bytes], state: S, size: int, inputs: Inputs = None) -> None:
        """Keep ``state`` (computed from ``inputs``, when given) under every digest of ``digests`` (prefix
        lengths it covers); evict the oldest."""
        if size > self._max_bytes:
            return
        with self._lock:
            ident = self._next
            self._next += 1
            self._states[ident] = (state, size, inputs)
            self._bytes += size
            for steps, digest in digests.items():
                self._keys[digest] = (ident, steps)
            while self._bytes > self._max_bytes or len(self._states) > self._max_states:
                _, (_, freed, _) = self._states.popitem(last=False)
                self._bytes -= freed
            if len(self._keys) > 4 * self._max_states:  # drop keys of evicted states now and then
                self._keys = {k: v for k, v in self._keys.items() if v[0] in self._states}


def _same_rows(columns: Sequence[NDArray[np.float64]], kept: Inputs, steps: int) -> bool:
    """Whether the first ``steps`` rows of ``columns`` are ``kept``'s (bit for bit: -0.0 is not 0.0)."""
    return kept is not None and len(kept) == len(columns) and all(
        new.size >= steps and old.size >= steps and new[:steps].tobytes() == old[:steps].tobytes()
        for new, old in zip(columns, kept, strict=True)
    )


def prefix_digests(columns: Sequence[NDArray[np.float64]], salt: bytes, lengths: range) -> dict[int, bytes]:
    """BLAKE2b digests of the first L rows of the (steps × inputs) table ``columns`` make, for L in ``lengths``.

    One pass over the table, step-major, so every prefix's digest comes from the same running hash.
    """
    table = np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)
    data = memoryview(table.tobytes())
    row = table.shape[1] * 8
    running = hashlib.blake2b(salt, digest_size=16)
    done = 0
    digests: dict[int, bytes] = {}
    for steps in lengths:
        running.update(data[done * row : steps * row])
        done = steps
        digests[steps] = running.copy().digest()
    return digests


def lookup_lengths(steps: int) -> range:
    """Prefix lengths a look of ``steps`` steps tries, shortest first: K - REREAD - 1 … K (at least 1)."""
    return range(max(steps - REREAD - 1, 1), steps + 1)


def kept_lengths(steps: int) -> range:
    """Prefix lengths a look's state is kept under: K - REREAD … K (at least 1)."""
    return range(max(steps - REREAD, 1), steps + 1)
