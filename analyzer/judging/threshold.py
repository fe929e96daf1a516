"""Canary-only absolute thresholds ("canary p99 < 0.5 s", "restarts == 0"): a betting test on bounded values.

The canary's values — each pod at each step, in step then pod-name order — are mapped into [0, 1]
by the policy's ``bound`` (larger values count as ``bound``) and mirrored when lower is worse, so
that larger is always worse. With m = limit / bound the fail test bets against "every value's mean,
given the values before it, is at most m":

    K_t = ∏_{i ≤ t} (1 + λ_i (y_i − m)),   0 ≤ λ_i ≤ c / m,

a nonnegative supermartingale under that null for any predictable λ_i (Waudby-Smith & Ramdas 2024,
"Estimating means of bounded random variables by betting", JRSS B 86(1), §4; their predictable
plug-in λ_i = sqrt(2 log(1/α) / (σ̂²_{i−1} · i · log(1 + i))), capped at c/m with c = 3/4). By
Ville's inequality P(sup_t K_t ≥ 1/α) ≤ α: the canary fails when K reaches 1/α, at any look.
The pass test is the mirror, on 1 − y against 1 − pass_limit / bound, from the current analysis
step on, and needs ``min_duration_seconds`` of data as well.

What the null says: the canary keeps the limit *at every step* in expectation. A canary above it for
a few steps in a row (a burst) is evidence against it, which is what a threshold asks. A limit of 0
("restarts == 0") allows no positive value: the first restart fails with certainty (K = ∞), and a
pass then needs ``pass_limit`` > 0 — n pod-steps without a restart show a rate below roughly
3/n of ``bound`` at α_pass = 5 %. Clipping at ``bound`` keeps the fail test valid (clipped values are
smaller); the pass is then a claim about the clipped values, and a note says when values were clipped.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.judging.metric import Budget
from analyzer.judging.pod_values import PodValues, result, samples
from analyzer.model import Diagnostics, Direction, Estimate, Interval, MetricResult, Policy, Verdict
from analyzer.stats.eprocess import FloatArray

#: The largest share of the wealth bet on one value (c in Waudby-Smith & Ramdas' λ ≤ c/m).
BET_CAP = 0.75
#: Grid of means on [0, 1] over which the reported interval is read.
GRID = np.linspace(0.0, 1.0, 401)


def plug_in_bets(y: FloatArray, alpha: float) -> FloatArray:
    """Waudby-Smith & Ramdas' predictable plug-in λ_i, each from the values before it only."""
    n = np.arange(1, y.size + 1, dtype=np.float64)
    mean = (0.5 + np.cumsum(y)) / (n + 1)  # μ̂_i after i values
    previous_mean = np.concatenate([[0.5], mean[:-1]])
    spread = (0.25 + np.cumsum((y - previous_mean) ** 2)) / (n + 1)  # σ̂²_i after i values
    previous_spread = np.concatenate([[0.25], spread[:-1]])
    bets: FloatArray = np.sqrt(2.0 * math.log(1.0 / alpha) / (previous_spread * n * np.log1p(n)))
    return bets


def log_wealth(y: FloatArray, m: FloatArray, bets: FloatArray) -> FloatArray:
    """log K_t for each null mean in ``m`` (shape (means, values)): betting that the mean exceeds m."""
    m = np.atleast_1d(m)[:, None]
    with np.errstate(divide="ignore"):
        cap = np.where(m > 0, BET_CAP / np.where(m > 0, m, 1.0), np.inf)
        lam = np.minimum(bets[None, :], cap)
        # m = 0: the null allows no positive value, so one is decisive (log K = ∞) and zeros bet nothing.
        step = np.where(m > 0, np.log1p(lam * (y[None, :] - m)), np.where(y[None, :] > 0, np.inf, 0.0))
    return np.cumsum(step, axis=1)


def _observations(values: FloatArray, bound: float, direction: Direction) -> tuple[FloatArray, FloatArray, int]:
    """(y in [0, 1] with larger worse, each value's step, how many were clipped), step then pod order."""
    present = np.isfinite(values.T)  # (steps, pods): step-major order
    raw = values.T[present]
    step_of = np.nonzero(present)[0].astype(np.float64)
    y = np.clip(raw, 0.0, bound) / bound
    return (y if direction is Direction.HIGHER else 1.0 - y), step_of, int(np.sum(raw > bound))


def _to_units(u: float, bound: float, direction: Direction) -> float:
    return bound * (u if direction is Direction.HIGHER else 1.0 - u)


def judge_threshold(values: PodValues, policy: Policy, step_seconds: float, budget: Budget) -> MetricResult:
    """The verdict of a canary-only threshold and its evidence (the stable arm is only reported)."""
    p = values.policy
    assert p.limit is not None and p.bound is not None  # the policy validator guarantees both
    canary, stable, start = values.arms()
    counted = samples(canary, stable)
    y, step_of, clipped = _observations(canary, p.bound, p.direction)
    higher = p.direction is Direction.HIGHER
    m_fail, m_pass = (v / p.bound if higher else 1.0 - v / p.bound for v in (p.limit, p.threshold_pass_limit))
    stable_values = stable[np.isfinite(stable)]
    estimate = Estimate(
        ratio=None,
        canary=float(np.nanmean(canary)) if y.size else None,
        stable=float(stable_values.mean()) if stable_values.size else None,
    )
    notes = []
    if clipped:
        notes.append(f"{clipped} canary values above bound {p.bound:g} counted as {p.bound:g}")
    if y.size == 0:
        return result(values.name, p, Verdict.INCONCLUSIVE, "no data: the canary has no values after warm-up",
                      estimate, counted, diagnostics=Diagnostics(notes=notes))
    fail_bets = plug_in_bets(y, budget.alpha_fail)
    fail_path = log_wealth(y, np.array([m_fail]), fail_bets)[0]
    log_fail = math.log(1.0 / budget.alpha_fail)
    crossed = np.flatnonzero(fail_path >= log_fail)

    recent = step_of >= max(values.pass_from - start, 0)
    y_pass = 1.0 - y[recent]
    pass_bets = plug_in_bets(y_pass, budget.alpha_pass)
    pass_path = log_wealth(y_pass, np.array([1.0 - m_pass]), pass_bets)[0]
    log_pass = math.log(1.0 / budget.alpha_pass)
    # The reported interval: means the fail side rejected (below) and the pass side rejected (above).
    rejected_low = GRID[log_wealth(y, GRID, fail_bets).max(axis=1) >= log_fail]
    rejected_high = GRID[log_wealth(y_pass, 1.0 - GRID, pass_bets).max(axis=1, initial=0.0) >= log_pass]
    low_u = float(rejected_low.max()) if rejected_low.size else None
    high_u = float(rejected_high.min()) if rejected_high.size else None
    ends = [None if u is None else _to_units(u, p.bound, p.direction) for u in (low_u, high_u)]
    lower, upper = (ends[0], ends[1]) if higher else (ends[1], ends[0])
    e_fail = math.exp(min(float(fail_path.max()), 700.0))
    fields = {
        "interval": Interval(lower=lower, upper=upper),
        "e_value": e_fail,
        "e_threshold": 1.0 / budget.alpha_fail,
        "p_value": min(1.0, 1.0 / e_fail),
        "pass_e_value": math.exp(min(float(pass_path.max(initial=0.0)), 700.0)),
        "diagnostics": Diagnostics(notes=notes),
    }
    side, within = ("above", "below") if higher else ("below", "above")
    level = f"canary mean {estimate.canary:.3g}" if estimate.canary is not None else "canary"
    if crossed.size:
        at = start + int(step_of[crossed[0]])
        reason = f"threshold breached: {level} is {side} the limit {p.limit:g} with confidence since look {at + 1}"
        return result(values.name, p, Verdict.FAIL, reason, estimate, counted, fail_step=at, **fields)
    duration = (canary.shape[1] - max(values.pass_from - start, 0)) * step_seconds
    shown = bool(pass_path.size) and float(pass_path.max()) >= log_pass
    if shown and duration >= policy.min_duration_seconds:
        reason = f"within the threshold: {level} is {within} {p.threshold_pass_limit:g} with confidence"
        return result(values.name, p, Verdict.PASS, reason, estimate, counted, **fields)
    if duration < policy.min_duration_seconds:
        reason = f"not enough data to pass: {max(duration, 0):g} s of data (need {policy.min_duration_seconds:g} s)"
    else:
        reason = f"undecided: {level}, not yet shown {within} {p.threshold_pass_limit:g} (nor {side} {p.limit:g})"
    return result(values.name, p, Verdict.INCONCLUSIVE, reason, estimate, counted, **fields)
