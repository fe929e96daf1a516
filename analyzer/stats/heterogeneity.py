"""Between-pod variation: how much pods of one version differ in their event rate.

Pods of the same version differ persistently (node, cache warmth, uneven load balancing): pod j's
rate is p·exp(u_j) with u_j ~ N(0, τ²). Unlike per-step noise this does not average out over time,
so an arm's rate carries the pod term δ = Σ_j w_j u_j (w_j the pod's share of the arm's requests)
however long the canary runs. Comparing canary with stable, the realised log ratio is the version
effect plus δ_c - δ_s, whose sd is

    s = τ · sqrt(Σ_canary w_j² + Σ_stable w_j²)

— with one canary pod and ten equal stable pods, s = τ·sqrt(1.1): one canary pod cannot show a
ratio smaller than its pod's own luck. More canary pods, or an Argo Experiment baseline, shrink it.

τ² is estimated from per-pod window totals by the Q-profile method (Viechtbauer 2007,
"Confidence intervals for the amount of heterogeneity in meta-analysis", Stat. Med. 26(1)): with
y_j = x_j / (n_j p̂) the pod's rate relative to its arm, v_j = 1/(n_j p̂) its Poisson variance and
w_j(τ²) = 1/(v_j + τ²), the generalised statistic

    Q(τ²) = Σ_j w_j(τ²) (y_j - ȳ_w)²,   ȳ_w = Σ w_j y_j / Σ w_j,

is ≈ χ² with J - 1 degrees of freedom at the true τ², and decreases in τ². Stable's pods always
contribute, the canary's when it has two or more (each arm around its own rate); Q and the degrees
of freedom add. The upper confidence bound τ²_U solves Q(τ²_U) = χ²_{df}(γ) (lower γ quantile), or
is 0 when Q(0) is already below it: a pessimistic τ behind a fail (γ = 0.2), so that an unlucky low
estimate does not pretend pods agree; a pass uses the median-unbiased value (γ = 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from analyzer.stats.dispersion import chi2_quantile

FloatArray = NDArray[np.float64]

#: One-sided level of the upper confidence bound on τ² behind a fail (0.2 = an 80 % upper bound).
UPPER_BOUND_LEVEL = 0.2
#: The same for a pass (0.5 = the median-unbiased Q-profile estimate): the pass test puts the pod
#: term's distribution N(0, s²) into its null (analyzer.judging.evidence.pass_log_e), where a plug-in
#: estimate of s belongs, not a pessimistic bound stacked on it.
PASS_LEVEL = 0.5


@dataclass(frozen=True)
class PodVariation:
    """τ's upper bounds and the sd of the pod term of the canary/stable log ratio (for a fail and for
    a pass), and pods per arm."""

    tau: float
    sd: float
    tau_pass: float
    sd_pass: float
    canary_pods: int
    stable_pods: int
    degrees_of_freedom: int


def _relative_rates(events: FloatArray, total: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """(y_j, v_j) of the pods that served requests, or None when the arm has no events to compare."""
    served = total > 0
    events, total = events[served], total[served]
    rate = float(events.sum() / total.sum()) if total.sum() > 0 else 0.0
    if rate <= 0 or events.size < 2:
        return None
    expected = total * rate
    return events / expected, 1.0 / expected


def _q_statistic(arms: list[tuple[FloatArray, FloatArray]], tau2: float) -> float:
    q = 0.0
    for y, v in arms:
        w = 1.0 / (v + tau2)
        centre = float((w * y).sum() / w.sum())
        q += float((w * (y - centre) ** 2).sum())
    return q


def traffic_weights_square_sum(total: FloatArray) -> float:
    """Σ w_j² with w_j = n_j / Σ n: 1 / (the arm's effective number of pods)."""
    served = total[total > 0]
    if served.size == 0:
        return 1.0
    w = served / served.sum()
    return float((w * w).sum())


def _tau2_bound(arms: list[tuple[FloatArray, FloatArray]], df: int, level: float) -> float:
    """τ² solving Q(τ²) = χ²_df(level), or 0 when Q(0) is already below it."""
    target = float(chi2_quantile(level, df))
    if _q_statistic(arms, 0.0) <= target:
        return 0.0
    high = 1.0
    while _q_statistic(arms, high) > target and high < 1e6:
        high *= 10.0
    return float(optimize.brentq(lambda t: _q_statistic(arms, t) - target, 0.0, high, xtol=1e-6, rtol=1e-6))


def pod_variation(
    canary_events: FloatArray, canary_total: FloatArray, stable_events: FloatArray, stable_total: FloatArray
) -> PodVariation | None:
    """τ's bounds and the pod term's sd from per-pod totals, or None when no arm has two pods with events."""
    arms = [
        a for a in (_relative_rates(stable_events, stable_total), _relative_rates(canary_events, canary_total)) if a
    ]
    if not arms:
        return None
    df = sum(y.size - 1 for y, _ in arms)
    tau, tau_pass = (math.sqrt(_tau2_bound(arms, df, level)) for level in (UPPER_BOUND_LEVEL, PASS_LEVEL))
    spread = math.sqrt(traffic_weights_square_sum(canary_total) + traffic_weights_square_sum(stable_total))
    return PodVariation(
        tau=tau,
        sd=tau * spread,
        tau_pass=tau_pass,
        sd_pass=tau_pass * spread,
        canary_pods=int((canary_total > 0).sum()),
        stable_pods=int((stable_total > 0).sum()),
        degrees_of_freedom=df,
    )
