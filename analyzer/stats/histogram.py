"""Bucket algebra for Prometheus classic histograms (cumulative counts per ``le`` bound, last +Inf).

``histogram_quantile`` follows PromQL's ``histogram_quantile`` for classic buckets
(prometheus/promql/quantile.go, ``BucketQuantile``): rank = q·count(+Inf); the first bucket whose
cumulative count reaches the rank is interpolated *linearly* between its lower and upper bounds;
the lowest bucket starts at 0 when its upper bound is positive (else its bound is returned); a rank
in the +Inf bucket returns the largest finite bound; no observations gives NaN.

The judge turns latency into counts: the *slow* requests are those above a bound τ,
``slow = count(+Inf) - count(le=τ)``, an exact count with no interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def histogram_quantiles(q: float, le: Sequence[float], cumulative: ArrayLike) -> FloatArray:
    """Vectorised ``histogram_quantile(q, …)`` over rows of cumulative counts (shape (..., B))."""
    bounds = np.asarray(le, dtype=np.float64)
    counts = np.asarray(cumulative, dtype=np.float64)
    if counts.shape[-1] != bounds.size:
        raise ValueError(f"{counts.shape[-1]} counts for {bounds.size} bounds")
    if not math.isinf(bounds[-1]):
        raise ValueError("the last bound must be +Inf")
    if math.isnan(q):
        return np.full(counts.shape[:-1], np.nan)
    if q < 0:
        return np.full(counts.shape[:-1], -np.inf)
    if q > 1:
        return np.full(counts.shape[:-1], np.inf)
    counts = np.maximum.accumulate(counts, axis=-1)  # PromQL's ensureMonotonic
    total = counts[..., -1]
    rank = q * total
    finite = counts[..., :-1]
    b = np.sum(finite < rank[..., None], axis=-1)  # first index with count >= rank, or B-1 for +Inf
    last_finite = bounds[-2]
    idx = np.minimum(b, bounds.size - 2)
    upper = bounds[idx]
    lower = np.where(idx > 0, bounds[np.maximum(idx - 1, 0)], 0.0)
    below = np.where(idx > 0, np.take_along_axis(counts, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0.0)
    in_bucket = np.take_along_axis(counts, idx[..., None], -1)[..., 0] - below
    with np.errstate(invalid="ignore", divide="ignore"):
        value = lower + (upper - lower) * (rank - below) / in_bucket
    value = np.where(in_bucket > 0, value, upper)
    value = np.where((idx == 0) & (bounds[0] <= 0), bounds[0], value)
    value = np.where(b >= bounds.size - 1, last_finite, value)
    result: FloatArray = np.where(total > 0, value, np.nan)
    return result


def histogram_quantile(q: float, le: Sequence[float], cumulative: Sequence[float]) -> float:
    """PromQL ``histogram_quantile(q, buckets)`` for one classic histogram."""
    return float(histogram_quantiles(q, le, cumulative))


def slow_counts(cumulative: ArrayLike, bound_index: int) -> FloatArray:
    """Requests above ``le[bound_index]``: total minus the cumulative count at that bound, per row."""
    counts = np.asarray(cumulative, dtype=np.float64)
    result: FloatArray = np.maximum(counts[..., -1] - counts[..., bound_index], 0.0)
    return result


def smallest_bound_at_or_above(le: Sequence[float], value: float) -> int | None:
    """Index of the smallest *finite* bound ≥ value, or None when every finite bound is below it."""
    for i, bound in enumerate(le[:-1]):
        if bound >= value:
            return i
    return None


def suggest_bounds(quantile_value: float, margin: float) -> list[float]:
    """Bucket bounds worth adding so that a slowdown of ``margin`` over ``quantile_value`` resolves.

    A short geometric ladder (factor 1.25, as ``ExponentialBuckets(start, 1.25, n)``) from the
    quantile up past quantile·(1 + margin), rounded to 3 significant digits.
    """
    if not math.isfinite(quantile_value) or quantile_value <= 0:
        return []
    target = quantile_value * (1.0 + margin)
    ladder: list[float] = []
    value = quantile_value
    while value <= target * 1.25 and len(ladder) < 8:
        ladder.append(float(f"{value:.3g}"))
        value *= 1.25
    return sorted(set(ladder))
