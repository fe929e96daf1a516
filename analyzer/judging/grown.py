"""Per-step arrays that successive looks extend in place: a look appends its new steps without copying the old.

A look's arrays (a list's counts, its repaired buckets, an e-process's log-likelihood) hold the last
look's steps and a few new ones. Copying the old steps into a new array at every look costs the
whole window (at 1,440 steps, 1.5 MiB for one comparison's log-likelihood); a :class:`Prefix` instead
views the first steps of a shared buffer with spare capacity, and :meth:`Prefix.extend` writes the
new steps after them.

A step once written is never written again: the buffer records how far any look has written, and a
look extends in place only from there (its kept steps are then every step written so far). A look
that keeps fewer steps — its newest steps were re-read with other counts — copies the steps it
keeps into a new array (of its own size: such looks tend to follow each other), so every view
handed out earlier, in any thread, keeps its values. Views are read-only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from analyzer.stats.eprocess import FloatArray

#: Spare steps a new buffer holds at least; beyond, a quarter of the steps it must hold (a window that grows
#: a step a look copies its steps once every quarter of its length; a bigger spare costs page faults).
MIN_SPARE = 64


class _Buffer:
    """Storage with spare capacity along ``axis`` (0: steps are rows; -1: steps are the last axis)."""

    def __init__(self, data: FloatArray, axis: int) -> None:
        self.data, self.axis = data, axis
        self.written = 0  # steps any look has written
        self.lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return int(self.data.shape[self.axis])

    def view(self, steps: int) -> FloatArray:
        cut = self.data[:steps] if self.axis == 0 else self.data[..., :steps]
        view: FloatArray = cut.view()
        view.setflags(write=False)
        return view

    def write(self, start: int, fresh: FloatArray) -> None:
        stop = start + int(fresh.shape[self.axis])
        if self.axis == 0:
            self.data[start:stop] = fresh
        else:
            self.data[..., start:stop] = fresh


def _new_buffer(shape: tuple[int, ...], axis: int, steps: int) -> _Buffer:
    size = list(shape)
    size[axis] = steps + max(MIN_SPARE, steps // 4)
    return _Buffer(np.empty(size, dtype=np.float64), axis)


@dataclass(frozen=True)
class Prefix:
    """The first ``steps`` steps of a buffer."""

    buffer: _Buffer
    steps: int

    @property
    def array(self) -> FloatArray:
        """The steps, read-only (a view of the buffer: no copy)."""
        return self.buffer.view(self.steps)

    @property
    def nbytes(self) -> int:
        """Bytes of the steps this prefix covers (the buffer's spare capacity is not counted)."""
        return self.array.nbytes

    def extend(self, keep: int, fresh: FloatArray) -> Prefix:
        """This prefix's first ``keep`` steps followed by ``fresh`` (same shape but along the step axis):
        written after them in place when nothing was written past ``keep``, else into a new buffer."""
        axis = self.buffer.axis
        steps = keep + int(fresh.shape[axis])
        if keep > self.steps:
            raise ValueError(f"cannot keep {keep} steps of a prefix of {self.steps}")
        with self.buffer.lock:
            in_place = self.buffer.written == keep and steps <= self.buffer.capacity
            if in_place:
                self.buffer.write(keep, fresh)
                self.buffer.written = steps
        if in_place:
            return Prefix(self.buffer, steps)
        if keep == self.buffer.written:  # a longer window, its buffer full: one with room for more steps
            buffer = _new_buffer(fresh.shape, axis, steps)
            buffer.write(0, self.buffer.view(keep))
            buffer.write(keep, fresh)
        else:  # the newest steps re-read: the next look will most likely copy again, so no spare room
            buffer = _Buffer(np.concatenate([self.buffer.view(keep), fresh], axis=axis), axis)
        buffer.written = steps
        return Prefix(buffer, steps)


def grown(fresh: FloatArray, axis: int = 0) -> Prefix:
    """A prefix holding ``fresh`` (steps along ``axis``: 0 or -1), taken over as its buffer, not copied: nothing
    may change ``fresh`` after. The next look that keeps all its steps moves them to a buffer with room."""
    buffer = _Buffer(fresh if fresh.flags.writeable else fresh.copy(), axis)  # a read-only view: another's
    buffer.written = int(fresh.shape[axis])
    return Prefix(buffer, buffer.written)
