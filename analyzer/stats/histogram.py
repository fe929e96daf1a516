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
from scipy import special

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


def survival_at(le: Sequence[float], cumulative: ArrayLike, x: float) -> float:
    """P(latency > x) from cumulative bucket counts, interpolated between bounds on probit-log scales.

    Between finite bounds b₁ < x < b₂ with survival S₁, S₂ in (0, 1): Φ⁻¹(1 - S) is taken linear in
    log x — exact for a lognormal latency, the usual model of one, where PromQL's linear interpolation
    (fine for a quantile inside a bucket) would misplace a tail share. With S₁ or S₂ at 0 or 1 the
    interpolation is linear; below the first bound the survival runs linearly from 1 at 0; beyond the
    last finite bound it is that bound's.
    """
    bounds = np.asarray(le, dtype=np.float64)[:-1]
    counts = np.maximum.accumulate(np.asarray(cumulative, dtype=np.float64))
    total = float(counts[-1])
    if total <= 0:
        return math.nan
    survival = 1.0 - counts[:-1] / total
    if x <= 0:
        return 1.0
    i = int(np.searchsorted(bounds, x))
    if i >= bounds.size:
        return float(survival[-1])
    if bounds[i] == x:
        return float(survival[i])
    if i == 0:
        return float(1.0 - (1.0 - survival[0]) * x / bounds[0])
    s1, s2 = float(survival[i - 1]), float(survival[i])
    t = (math.log(x) - math.log(bounds[i - 1])) / (math.log(bounds[i]) - math.log(bounds[i - 1]))
    if not (0.0 < s2 <= s1 < 1.0):
        return s1 + (s2 - s1) * t
    z1, z2 = float(special.ndtri(1.0 - s1)), float(special.ndtri(1.0 - s2))
    return float(1.0 - special.ndtr(z1 + t * (z2 - z1)))
