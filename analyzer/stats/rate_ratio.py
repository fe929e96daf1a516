"""The canary/stable rate ratio, conditioned on exposure.

With Poisson event counts e_c ~ Poisson(n_c p_c) and e_s ~ Poisson(n_s p_s), the canary's share of
the E = e_c + e_s events is, given E,

    e_c | E ~ Binomial(E, π(r)),   π(r) = n_c r / (n_c r + n_s),   r = p_c / p_s,

whatever the common traffic level: load swings shared by both arms cancel. The map is monotone,
so a test or an interval for π is one for r:  r = π / (1 - π) · n_s / n_c.

For binomial (not Poisson) counts with r = 1 the conditional law is hypergeometric, which is
smaller than this binomial in the convex order (Hoeffding 1963, Theorem 4), so tests built on it
stay conservative.

References: Cox & Hinkley (1974) "Theoretical Statistics", §5.2 (conditional tests);
Clopper & Pearson (1934) Biometrika 26(4) for the exact interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

Alternative = Literal["greater", "less", "two-sided"]


def canary_share(ratio: ArrayLike, canary_exposure: ArrayLike, stable_exposure: ArrayLike) -> NDArray[np.float64]:
    """π(r) = n_c r / (n_c r + n_s), broadcast; 1/2 where neither arm had exposure (no events possible)."""
    r = np.asarray(ratio, dtype=np.float64)
    n_c = np.asarray(canary_exposure, dtype=np.float64)
    n_s = np.asarray(stable_exposure, dtype=np.float64)
    weighted = n_c * r
    denominator = weighted + n_s
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(denominator > 0, weighted / denominator, 0.5)
    result: NDArray[np.float64] = share
    return result


def log_canary_share(
    ratio: ArrayLike, canary_exposure: ArrayLike, stable_exposure: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(log π(r), log(1 - π(r))), computed from the exposures so both stay exact at the extremes."""
    weighted = np.asarray(ratio, dtype=np.float64) * np.asarray(canary_exposure, dtype=np.float64)
    stable = np.asarray(stable_exposure, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_total = np.log(weighted + stable)
        return np.log(weighted) - log_total, np.log(stable) - log_total


def ratio_from_share(share: float, canary_exposure: float, stable_exposure: float) -> float:
    """Inverse of :func:`canary_share`: r = π/(1-π) · n_s/n_c (inf at π = 1, nan without exposure)."""
    if canary_exposure <= 0 or stable_exposure <= 0:
        return float("nan")
    if share >= 1.0:
        return float("inf")
    return share / (1.0 - share) * stable_exposure / canary_exposure


def _upper_tail(x: float, n: float, p: float) -> float:
    """P(X ≥ x) for X ~ Binomial(n, p), via the regularised incomplete beta (continuous in x)."""
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    return float(special.betainc(x, n - x + 1.0, p)) if p > 0 else 0.0


def _lower_tail(x: float, n: float, p: float) -> float:
    """P(X ≤ x) for X ~ Binomial(n, p)."""
    if x >= n:
        return 1.0
    if x < 0:
        return 0.0
    return float(special.betainc(n - x, x + 1.0, 1.0 - p)) if p < 1 else 0.0


@dataclass(frozen=True)
class RateRatioResult:
    """Result of :func:`rate_ratio_test`, shaped like scipy's test results."""

    statistic: float  # the estimated ratio r̂
    pvalue: float
    canary_events: float
    total_events: float
    canary_exposure: float
    stable_exposure: float

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Clopper-Pearson interval for π mapped to the ratio scale."""
        x, n = self.canary_events, self.total_events
        if n <= 0:
            return (0.0, float("inf"))
        tail = (1.0 - confidence_level) / 2.0
        # Beta quantiles (scipy.stats.beta.ppf is this function, without importing scipy.stats on the hot path)
        low = float(special.betaincinv(x, n - x + 1.0, tail)) if x > 0 else 0.0
        high = float(special.betaincinv(x + 1.0, n - x, 1.0 - tail)) if x < n else 1.0
        return (
            ratio_from_share(low, self.canary_exposure, self.stable_exposure),
            ratio_from_share(high, self.canary_exposure, self.stable_exposure),
        )


def rate_ratio_test(
    canary_events: float,
    canary_exposure: float,
    stable_events: float,
    stable_exposure: float,
    ratio: float = 1.0,
    alternative: Alternative = "greater",
) -> RateRatioResult:
    """Exact conditional test of H0: p_c/p_s = ``ratio`` (one look, pooled counts).

    ``greater`` tests for a canary rate above ``ratio`` × stable's: p = P(X ≥ e_c | E, π(ratio)).
    Two-sided p-values double the smaller tail (capped at 1). Equal to
    ``scipy.stats.binomtest(e_c, E, π(ratio))`` on integer counts; this version also accepts the
    non-integer counts that Prometheus' ``increase()`` extrapolates.
    """
    if min(canary_events, canary_exposure, stable_events, stable_exposure) < 0:
        raise ValueError("counts must be non-negative")
    if ratio <= 0:
        raise ValueError("ratio must be positive")
    total = canary_events + stable_events
    share = float(canary_share(ratio, canary_exposure, stable_exposure))
    if total <= 0:
        pvalue = 1.0
    elif alternative == "greater":
        pvalue = _upper_tail(canary_events, total, share)
    elif alternative == "less":
        pvalue = _lower_tail(canary_events, total, share)
    else:
        pvalue = min(
            1.0,
            2.0 * min(_upper_tail(canary_events, total, share), _lower_tail(canary_events, total, share)),
        )
    denominator = canary_exposure * stable_events  # (e_c / n_c) / (e_s / n_s), without underflow
    if canary_exposure > 0 and stable_exposure > 0 and denominator > 0:
        estimate = canary_events * stable_exposure / denominator
    elif canary_events > 0:
        estimate = float("inf")
    else:
        estimate = float("nan")
    return RateRatioResult(
        statistic=estimate,
        pvalue=pvalue,
        canary_events=canary_events,
        total_events=total,
        canary_exposure=canary_exposure,
        stable_exposure=stable_exposure,
    )
