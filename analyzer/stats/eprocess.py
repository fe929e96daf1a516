"""Mixture likelihood-ratio e-processes and confidence sequences for binomial counts on a grid.

The model: at step k, ``x_k`` successes out of ``m_k`` trials, ``x_k ~ Binomial(m_k, p_k(θ))`` for
a scalar parameter θ (a rate ratio, or a rate relative to a limit). For a boundary θ_b the
mixture likelihood ratio

    M_K(θ_b) = Σ_{g in side} w_g Π_{k≤K} [p_k(θ_g)^x_k (1-p_k(θ_g))^(m_k-x_k)]
                                       / [p_k(θ_b)^x_k (1-p_k(θ_b))^(m_k-x_k)]   / Σ_{g in side} w_g

with the prior weights w_g restricted to the grid points *above* θ_b is a nonnegative
supermartingale under every θ ≤ θ_b when p_k(θ) is increasing in θ (monotone likelihood ratio of
the binomial family; the trials m_k and the map p_k are predictable). Ville's inequality then
gives P(∃K: M_K(θ_b) ≥ 1/α) ≤ α: the test may be read at every look, as often as Argo asks.
Restricting to the points *below* θ_b tests θ ≥ θ_b the same way. Inverting the tests over all
grid points gives an anytime-valid confidence sequence for θ.

Ville (1939); Robbins (1970) "Statistical methods related to the law of the iterated logarithm";
Howard, Ramdas, McAuliffe, Sekhon (2021) "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Statist. 49(2); Lindon & Malek (2022) "Anytime-valid inference for multinomial
count data", NeurIPS.

Everything is computed for all prefixes K at once: arrays are (grid points G) x (steps K).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Half width of the log-ratio grid: ratios from 1/64 to 64.
GRID_HALF_WIDTH = float(np.log(64.0))
#: Grid points: a spacing of about 6.7 % in the ratio.
GRID_POINTS = 129


@dataclass(frozen=True)
class Grid:
    """Sorted parameter values θ_g (> 0) and log prior weights (normal on log θ, unnormalised)."""

    theta: FloatArray
    log_prior: FloatArray

    def index(self, value: float) -> int:
        """Index of a value that was placed on the grid."""
        i = int(np.searchsorted(self.theta, value * (1 - 1e-12)))
        if i >= self.theta.size or abs(float(self.theta[i]) - value) > 1e-9 * abs(value):
            raise ValueError(f"{value!r} is not on the grid")
        return i


@lru_cache(maxsize=64)
def log_ratio_grid(scale: float, include: tuple[float, ...] = ()) -> Grid:
    """A log-spaced grid of ratios with a N(0, scale²) prior on log θ, holding the given values exactly.

    Grid points closer than 1e-9 (relative) to an included value are replaced by it.
    """
    base = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    extra = np.log(np.asarray([v for v in include if v > 0], dtype=np.float64))
    keep = ~np.any(np.isclose(base[:, None], extra[None, :], rtol=0, atol=1e-9), axis=1) if extra.size else slice(None)
    log_theta = np.unique(np.concatenate([base[keep], extra]))
    log_prior = -0.5 * (log_theta / scale) ** 2
    theta = np.exp(log_theta)
    theta.setflags(write=False)
    log_prior.setflags(write=False)
    return Grid(theta=theta, log_prior=log_prior)


def cumulative_loglik(
    successes: FloatArray,
    trials: FloatArray,
    log_p: FloatArray,
    log_q: FloatArray,
    weights: FloatArray | None = None,
) -> FloatArray:
    """Binomial log-likelihood (without the constant binomial coefficient), summed over steps 1..K.

    ``log_p`` and ``log_q`` are (G, K): log p and log(1 - p), passed separately so that they stay
    exact when p is within rounding of 0 or 1. The result is (G, K), column K the log-likelihood of
    the first K steps. A term with no successes (or no failures) contributes 0 whatever its log.
    ``weights`` (K,) temper each step's term — 1/φ_k for overdispersed counts (quasi-likelihood,
    :mod:`analyzer.stats.dispersion`); they must be predictable for the e-process to stay valid.
    """
    result: FloatArray = np.cumsum(step_loglik(successes, trials, log_p, log_q, weights), axis=1)
    return result


def step_loglik(
    successes: FloatArray,
    trials: FloatArray,
    log_p: FloatArray,
    log_q: FloatArray,
    weights: FloatArray | None = None,
) -> FloatArray:
    """Each step's term of :func:`cumulative_loglik`, (G, K), before the sum over steps."""
    failures = trials - successes
    with np.errstate(invalid="ignore"):
        per_step = np.where(successes > 0, successes * log_p, 0.0) + np.where(failures > 0, failures * log_q, 0.0)
    if weights is not None:
        per_step = per_step * weights
    result: FloatArray = per_step
    return result


def _cumulative_logsumexp(values: FloatArray, reverse: bool) -> FloatArray:
    """Running log-sum-exp along axis 0, *excluding* the current row (strictly above or below).

    Computed in linear space after subtracting each column's maximum (one exp, one cumsum, one
    log: several times faster than ``np.logaddexp.accumulate``). Terms more than ~745 below the
    column's maximum underflow to 0; a running sum made only of such terms reads as -inf, where
    the exact value is below e^-745 of the maximum and every test decision is the same.
    """
    data = values[::-1] if reverse else values
    peak = data.max(axis=0)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        acc = np.log(np.cumsum(np.exp(data - peak), axis=0)) + peak
    shifted = np.full_like(acc, -np.inf)
    shifted[1:] = acc[:-1]
    out: FloatArray = shifted[::-1] if reverse else shifted
    return out


def log_sum_exp(values: FloatArray, axis: int) -> FloatArray:
    """log Σ exp(values) along ``axis``, after the peak along it (-inf only when every term is, +inf when
    any term is)."""
    peak = values.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        result: FloatArray = np.log(np.exp(values - peak).sum(axis=axis)) + np.squeeze(peak, axis=axis)
    return result


def mixture_log_marginal(loglik: FloatArray, log_prior: FloatArray, side: Literal["above", "below"]) -> FloatArray:
    """log Σ_{g on side of b} w_g L_K(θ_g) / Σ_{g on side of b} w_g for every boundary b and prefix K.

    The mixture's marginal likelihood, the numerator of :func:`mixture_log_e`; -inf where no grid
    point lies on that side.
    """
    reverse = side == "above"
    numerator = _cumulative_logsumexp(loglik + log_prior[:, None], reverse)
    normaliser = _cumulative_logsumexp(log_prior[:, None], reverse)
    with np.errstate(invalid="ignore"):
        result: FloatArray = np.where(np.isfinite(normaliser), numerator - normaliser, -np.inf)
    return result


def mixture_log_e(loglik: FloatArray, log_prior: FloatArray, side: Literal["above", "below"]) -> FloatArray:
    """log M_K(θ_b) for every boundary b and prefix K, mixing over the grid points on ``side`` of θ_b.

    ``side="above"`` tests H0: θ ≤ θ_b (evidence of an increase); ``"below"`` tests H0: θ ≥ θ_b.
    Where no grid point lies on that side the e-value is 1 (log 0).
    """
    marginal = mixture_log_marginal(loglik, log_prior, side)
    with np.errstate(invalid="ignore"):
        log_e = marginal - loglik
    result: FloatArray = np.where(np.isfinite(marginal), log_e, 0.0)
    return result


def mixture_log_e_at(loglik: FloatArray, log_prior: FloatArray, b: int, side: Literal["above", "below"]) -> FloatArray:
    """log M_K(θ_b) for one boundary b and every prefix K: the row ``b`` of :func:`mixture_log_e`."""
    rows = slice(b + 1, None) if side == "above" else slice(0, b)
    if loglik[rows].shape[0] == 0:
        return np.zeros(loglik.shape[1])
    prior = log_prior[rows]
    result: FloatArray = log_sum_exp(loglik[rows] + prior[:, None], axis=0) - log_sum_exp(prior, axis=0) - loglik[b]
    return result


def lower_bounds(log_e_above: FloatArray, theta: FloatArray, log_threshold: float) -> FloatArray:
    """Per prefix K, the lower end of the confidence sequence: values rejected by the 'above' test cut.

    θ_b is excluded at look K when log M_K(θ_b) ≥ log(1/α); the bound is the largest excluded θ_b
    (0 when none is excluded). Values between it and the next grid point were never tested, so the
    next grid point would claim more than was shown (it sat above the true ratio in 95 % of runs
    whose ratio lay between grid points).
    """
    rejected = log_e_above >= log_threshold
    any_rejected = rejected.any(axis=0)
    last = theta.size - 1 - np.argmax(rejected[::-1], axis=0)
    result: FloatArray = np.where(any_rejected, theta[last], 0.0)
    return result


def upper_bounds(log_e_below: FloatArray, theta: FloatArray, log_threshold: float) -> FloatArray:
    """Per prefix K, the upper end of the confidence sequence: the smallest excluded θ_b (inf when
    none is excluded), for the same reason as :func:`lower_bounds`."""
    rejected = log_e_below >= log_threshold
    any_rejected = rejected.any(axis=0)
    first = np.argmax(rejected, axis=0)
    result: FloatArray = np.where(any_rejected, theta[first], np.inf)
    return result
