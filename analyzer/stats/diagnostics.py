"""Whole-distribution diagnostics for latency histograms. They are reported, never decide a verdict.

* :func:`chi2_homogeneity` — Pearson's χ² test of homogeneity on the 2 x B table of per-bucket
  (non-cumulative) counts, adjacent buckets merged until every expected count is ≥ 5
  (Cochran 1954, "Some methods for strengthening the common χ² tests", Biometrics 10(4)).
  Statistic Σ (O - E)²/E with E = row total · column total / N, on B' - 1 degrees of freedom;
  equal to ``scipy.stats.chi2_contingency(table, correction=False)``, computed directly because
  it sits on the request path.
  It fires on any difference, improvements included, and is a one-look test.
* :func:`bootstrap_quantile_ratio` — a parametric bootstrap interval for the ratio of the two
  arms' interpolated quantiles: each arm's bucket counts are redrawn from
  Multinomial(n, p̂) and the quantile recomputed as ``histogram_quantile`` does (Efron &
  Tibshirani 1993, "An Introduction to the Bootstrap", ch. 6). Descriptive: within-bucket
  interpolation biases both arms alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from analyzer.stats.histogram import histogram_quantiles


def _merge_sparse(table: np.ndarray, min_expected: float) -> np.ndarray:
    """Merge adjacent columns of a 2 x B table until every expected count reaches ``min_expected``."""
    columns: list[np.ndarray] = []
    pending = np.zeros(2)
    row_share = table.sum(axis=1) / table.sum()
    for column in table.T:
        pending = pending + column
        if (row_share * pending.sum()).min() >= min_expected:
            columns.append(pending)
            pending = np.zeros(2)
    if pending.sum() > 0:
        if columns:
            columns[-1] = columns[-1] + pending
        else:
            columns.append(pending)
    return np.array(columns).T


def chi2_homogeneity(canary_counts: ArrayLike, stable_counts: ArrayLike, min_expected: float = 5.0) -> float | None:
    """p-value of the χ² homogeneity test on per-bucket counts; None when fewer than 2 columns remain."""
    table = np.vstack([np.asarray(canary_counts, float), np.asarray(stable_counts, float)])
    if (table.sum(axis=1) <= 0).any():
        return None
    merged = _merge_sparse(table, min_expected)
    if merged.shape[1] < 2:
        return None
    expected = np.outer(merged.sum(axis=1), merged.sum(axis=0)) / merged.sum()
    statistic = float(((merged - expected) ** 2 / expected).sum())
    return float(special.chdtrc(merged.shape[1] - 1, statistic))


def _first_needed_bound(q: float, arms: list[np.ndarray], sigmas: float = 8.0) -> int:
    """Index of the lowest bound to keep: buckets wholly below it are merged into it for the redraws.

    A redraw's rank q·n can only land below bound j if that bound's share is within ``sigmas``
    binomial standard deviations of q, so merging the buckets below the highest bound that is
    further away than that (in both arms) changes no redrawn quantile (merging multinomial cells is
    exact) while making each redraw several times cheaper.
    """
    keep = 0
    for j in range(len(arms[0]) - 1):
        far = all(cum[j] / cum[-1] < q - sigmas * np.sqrt(q * (1 - q) / cum[-1]) for cum in arms)
        if not far:
            break
        keep = j
    return keep


def bootstrap_quantile_ratio(
    q: float,
    le: Sequence[float],
    canary_cumulative: ArrayLike,
    stable_cumulative: ArrayLike,
    draws: int = 200,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval for quantile(canary) / quantile(stable); None without data.

    Counts are rounded to whole requests for the multinomial redraws. The interval's ends are the
    order statistics at ranks ⌊draws·(1-level)/2⌋ and ⌈draws·(1+level)/2⌉ - 1 of the sorted ratios;
    200 draws keep it on the request path (about 0.3 ms) at a Monte Carlo error that is small
    next to the bucket interpolation it describes.
    """
    rng = np.random.default_rng(seed)
    arms = [np.asarray(c, dtype=np.float64) for c in (canary_cumulative, stable_cumulative)]
    if any(round(cum[-1]) <= 0 for cum in arms):
        return None
    first = _first_needed_bound(q, arms)
    le = list(le)[first:]
    redrawn = []
    for cum in arms:
        kept = cum[first:]  # the first kept bound's count also holds every bucket below it (merged)
        per_bucket = np.diff(kept, prepend=0.0).clip(0, None)
        redrawn.append(rng.multinomial(round(cum[-1]), per_bucket / per_bucket.sum(), size=draws).cumsum(axis=1))
    quantiles = histogram_quantiles(q, le, np.stack(redrawn))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = quantiles[0] / quantiles[1]
    ratios = np.sort(ratios[np.isfinite(ratios)])
    if ratios.size < draws // 2:
        return None
    tail = (1.0 - confidence_level) / 2.0
    low = ratios[int(np.floor(ratios.size * tail))]
    high = ratios[int(np.ceil(ratios.size * (1.0 - tail))) - 1]
    return (float(low), float(high))
