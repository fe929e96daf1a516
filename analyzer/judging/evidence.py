"""Anytime-valid evidence on per-step counts: the rate-ratio comparison and the absolute-limit test.

Both are read at every prefix of the steps at once, so that judging steps 1..K is one Argo look
and the fail guarantee holds over all looks together (see :mod:`analyzer.stats.eprocess`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzer.stats.eprocess import (
    FloatArray,
    cumulative_loglik,
    log_ratio_grid,
    lower_bounds,
    mixture_log_e,
    mixture_log_e_at,
    upper_bounds,
)
from analyzer.stats.rate_ratio import log_canary_share


@dataclass(frozen=True)
class StepCounts:
    """Per-step events and exposures of both arms over the steps the tests use."""

    canary_events: FloatArray
    canary_total: FloatArray
    stable_events: FloatArray
    stable_total: FloatArray

    @property
    def steps(self) -> int:
        return int(self.canary_total.size)


@dataclass(frozen=True)
class RatioEvidence:
    log_e_fail: float  # sup over looks of the fail e-process (log)
    fail_step: int | None  # first step (0-based, within these counts) where fail evidence held
    lower: float  # anytime lower bound on the ratio at the fail level (current and fail looks)
    upper: float  # upper bound at the pass level, current look
    log_e_pass: float  # current log e-value against ratio >= pass_ratio


def _first_true(flags: np.ndarray) -> int | None:
    hits = np.flatnonzero(flags)
    return int(hits[0]) if hits.size else None


def rate_difference(counts: StepCounts) -> FloatArray:
    """Cumulative canary rate minus stable rate after each step (0 where an arm has no requests yet)."""
    n_c, n_s = np.cumsum(counts.canary_total), np.cumsum(counts.stable_total)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.cumsum(counts.canary_events) / n_c - np.cumsum(counts.stable_events) / n_s
    result: FloatArray = np.where((n_c > 0) & (n_s > 0), diff, 0.0)
    return result


def compare_ratio(
    counts: StepCounts,
    fail_ratio: float,
    pass_ratio: float,
    min_increase: float,
    prior_scale: float,
    log_fail_threshold: float,
    log_pass_threshold: float,
) -> RatioEvidence:
    """Evidence about r = p_canary / p_stable from the conditional binomial model of each step.

    Fail: the first look where the mixture e-process against r ≤ ``fail_ratio`` reaches the
    threshold *and* the cumulative rate difference is at least ``min_increase`` (a practical-
    significance veto, which can only lower the false-fail rate). Pass evidence: the e-process
    against r ≥ ``pass_ratio``, mixing over ratios below it, at the current look.
    """
    grid = log_ratio_grid(prior_scale, include=(fail_ratio, pass_ratio))
    log_p, log_q = log_canary_share(grid.theta[:, None], counts.canary_total[None, :], counts.stable_total[None, :])
    events = counts.canary_events + counts.stable_events
    loglik = cumulative_loglik(counts.canary_events, events, log_p, log_q)
    fail_path = mixture_log_e_at(loglik, grid.log_prior, grid.index(fail_ratio), "above")
    crossed = (fail_path >= log_fail_threshold) & (rate_difference(counts) >= min_increase)
    fail_step = _first_true(crossed)
    # The confidence sequence holds at every look at once, so intersecting the looks we read keeps
    # it valid: the current one and, after a fail, the fail look (where the bound passed fail_ratio).
    looks = [counts.steps - 1] if fail_step is None else [fail_step, counts.steps - 1]
    above = mixture_log_e(loglik[:, looks], grid.log_prior, "above")
    below = mixture_log_e(loglik[:, -1:], grid.log_prior, "below")
    lower = lower_bounds(above, grid.theta, log_fail_threshold)
    upper = upper_bounds(below, grid.theta, log_pass_threshold)
    return RatioEvidence(
        log_e_fail=float(max(fail_path.max(), 0.0)),
        fail_step=fail_step,
        lower=float(lower.max()),
        upper=float(upper[-1]),
        log_e_pass=float(below[grid.index(pass_ratio), -1]),
    )


@dataclass(frozen=True)
class LimitEvidence:
    log_e: float  # sup over looks (log)
    fail_step: int | None


def exceeds_limit(
    events: FloatArray, total: FloatArray, limit: float, prior_scale: float, log_threshold: float
) -> LimitEvidence:
    """Anytime-valid test of H0: canary rate p ≤ ``limit`` (an absolute SLO), one arm.

    events_k ~ Binomial(total_k, p); the mixture is over p = limit·θ for θ > 1 on the ratio grid
    (capped just below 1), so it is the same e-process as :func:`compare_ratio` with a known
    baseline.
    """
    grid = log_ratio_grid(prior_scale, include=(1.0,))
    boundary = grid.index(1.0)
    theta, log_prior = grid.theta[boundary:], grid.log_prior[boundary:]  # θ = 1 and the alternatives above
    probs = np.minimum(limit * theta, 1.0 - 1e-12)[:, None]  # (G', 1): the same at every step
    loglik = cumulative_loglik(events, total, np.log(probs), np.log1p(-probs))
    path = mixture_log_e_at(loglik, log_prior, 0, "above")
    return LimitEvidence(log_e=float(max(path.max(), 0.0)), fail_step=_first_true(path >= log_threshold))


def safe_exp(log_value: float) -> float:
    """exp() capped at the largest float, for reporting e-values."""
    return math.exp(min(log_value, 700.0))
