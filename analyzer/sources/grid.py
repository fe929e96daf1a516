"""A range answer's series on a window's steps, as rows of two 2-D arrays: one scatter, not a loop per series.

Row ``i`` of a :class:`Grid` is the series whose labels are ``labels[i]``; column ``k`` is the window's
step ``k``. A step's value is the sample evaluated at its end: 0 (and not present) where the series has
no sample there, or one that is NaN or infinite; a finite sample that is 0 or negative is present with
the value 0 (a count cannot be negative). The window cache keeps grids, and merging a look's newest
steps into a kept grid is a slice assignment (:mod:`analyzer.sources.cache`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.sources.promapi import Matrix

#: A series' labels, as Prometheus gives them.
Labels = dict[str, str]


@dataclass(frozen=True)
class Grid:
    """Series on the steps of a window: ``values`` and ``present`` are (len(labels), steps) arrays."""

    labels: list[Labels]
    values: np.ndarray  # float64; 0 where there is no sample, or it is NaN, infinite or negative
    present: np.ndarray  # bool; True where a finite sample exists

    @property
    def steps(self) -> int:
        return int(self.values.shape[1])

    @classmethod
    def of(cls, matrix: Matrix, start: int, step: int, steps: int) -> Grid:
        """The answer's samples on the ``steps`` steps after ``start`` (step k ends at start + (k + 1)·step)."""
        rows = matrix.rows
        columns = np.rint((matrix.times - start) / step).astype(np.int64) - 1
        samples = matrix.values
        finite = (columns >= 0) & (columns < steps) & np.isfinite(samples)
        present = np.zeros((len(matrix.labels), steps), dtype=bool)
        present[rows[finite], columns[finite]] = True
        keep = finite & (samples > 0)
        values = np.zeros((len(matrix.labels), steps))
        values[rows[keep], columns[keep]] = samples[keep]
        return cls(matrix.labels, values, present)

    def last_step(self, rows: np.ndarray) -> int:
        """The newest step at which any of ``rows`` has a sample, -1 if none has."""
        found = np.flatnonzero(self.present[rows].any(axis=0))
        return int(found[-1]) if found.size else -1
