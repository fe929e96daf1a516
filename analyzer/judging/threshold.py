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

What the null says: the canary keeps the limit *at every step* in expectation, given the steps before.
Values that persist (a p99 that stays high for minutes) make a canary whose level is exactly the limit
look above it at some steps, so each bet is divided by φ = (1 + ρ)/(1 − ρ), ρ the pods' lag-1
autocorrelation read from the steps before (:func:`persistence`; Kendall's small-sample bias added
back). Any predictable bet keeps the test valid, so the damping costs nothing under the null; it costs
some power (bench/gauges.py: 120 % of the limit fails 73 % of runs instead of 82 %). A limit of 0
("restarts == 0") allows no positive value: the first restart fails with certainty (K = ∞), and a
pass then needs ``pass_limit`` > 0 — n pod-steps without a restart show a rate below roughly
3/n of ``bound`` at α_pass = 5 %. Clipping at ``bound`` keeps the fail test valid (clipped values are
smaller); the pass is then a claim about the clipped values, and a note says when values were clipped.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.judging.metric import Budget
from analyzer.judging.metric import metric_result as result
from analyzer.judging.pod_values import PodValues, samples
from analyzer.model import Diagnostics, Direction, Estimate, Interval, MetricResult, Policy, Verdict
from analyzer.stats.eprocess import FloatArray

#: The largest share of the wealth bet on one value (c in Waudby-Smith & Ramdas' λ ≤ c/m).
BET_CAP = 0.75
#: Grid of means on [0, 1] over which the reported interval is read.
GRID = np.linspace(0.0, 1.0, 201)


def plug_in_bets(y: FloatArray, alpha: float) -> FloatArray:
    """Waudby-Smith & Ramdas' predictable plug-in λ_i, each from the values before it only."""
    n = np.arange(1, y.size + 1, dtype=np.float64)
    mean = (0.5 + np.cumsum(y)) / (n + 1)  # μ̂_i after i values
    previous_mean = np.concatenate([[0.5], mean[:-1]])
    spread = (0.25 + np.cumsum((y - previous_mean) ** 2)) / (n + 1)  # σ̂²_i after i values
    previous_spread = np.concatenate([[0.25], spread[:-1]])
    bets: FloatArray = np.sqrt(2.0 * math.log(1.0 / alpha) / (previous_spread * n * np.log1p(n)))
    return bets


#: Autocorrelation assumed until MIN_PAIRS pairs of consecutive values show their own, and its cap.
PRIOR_PERSISTENCE, MAX_PERSISTENCE, MIN_PAIRS = 0.5, 0.8, 5


def persistence(y: FloatArray) -> FloatArray:
    """Per step, φ = (1 + ρ)/(1 - ρ) from the steps before it: ρ the pooled lag-1 autocorrelation of
    the pods' values (shape (pods, steps), NaN where missing), clipped to [0, MAX_PERSISTENCE].

    φ is how much a run of autocorrelated values overstates the evidence of independent ones; the
    bets are divided by it. Any predictable bet keeps the test valid, so this costs nothing under the
    null and keeps a canary that sits at the limit with persistent values from being failed for it.
    """
    seen = np.isfinite(y)
    x = np.where(seen, y, 0.0)
    paired = np.zeros_like(seen)
    paired[:, 1:] = seen[:, 1:] & seen[:, :-1]
    before = np.zeros_like(x)
    before[:, 1:] = x[:, :-1]

    def upto(values: FloatArray) -> FloatArray:
        """Σ over the steps before each step, summed over pods: shape (steps,)."""
        totals = np.cumsum(values, axis=1)
        return np.concatenate([np.zeros((values.shape[0], 1)), totals[:, :-1]], axis=1)

    n, s1, s2 = upto(seen.astype(np.float64)), upto(x), upto(x * x)
    pairs, lag, ends = upto(paired.astype(np.float64)), upto(paired * x * before), upto(paired * (x + before))
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(n > 0, s1 / np.maximum(n, 1), 0.0)  # each pod around its own mean so far
    spread = (s2 - n * centre**2).sum(axis=0)
    lagged = (lag - centre * ends + centre**2 * pairs).sum(axis=0)
    count, pair_count = n.sum(axis=0), pairs.sum(axis=0)
    steps = np.arange(y.shape[1], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(spread > 1e-12, lagged / spread * count / np.maximum(pair_count, 1), 0.0)
    # Kendall's bias of a lag-1 autocorrelation around a series' own mean: -(1 + 3ρ)/n.
    rho = np.where(spread > 1e-12, rho + (1 + 3 * rho) / np.maximum(steps, 1), 0.0)
    rho = np.where(pair_count >= MIN_PAIRS, np.clip(rho, 0.0, MAX_PERSISTENCE), PRIOR_PERSISTENCE)
    phi: FloatArray = (1 + rho) / (1 - rho)
    return phi


def log_wealth(y: FloatArray, m: FloatArray, bets: FloatArray) -> FloatArray:
    """log K_t for each null mean in ``m`` (shape (means, values)): betting that the mean exceeds m."""
    m = np.atleast_1d(m)[:, None]
    with np.errstate(divide="ignore"):
        cap = np.where(m > 0, BET_CAP / np.where(m > 0, m, 1.0), np.inf)
        lam = np.minimum(bets[None, :], cap)
        # m = 0: the null allows no positive value, so one is decisive (log K = ∞) and zeros bet nothing.
        step = np.where(m > 0, np.log1p(lam * (y[None, :] - m)), np.where(y[None, :] > 0, np.inf, 0.0))
    return np.cumsum(step, axis=1)


def _observations(values: FloatArray, bound: float, direction: Direction) -> tuple[FloatArray, int]:
    """(y in [0, 1] with larger worse, shape (pods, steps), NaN where missing; how many were clipped)."""
    y = np.clip(values, 0.0, bound) / bound
    return (y if direction is Direction.HIGHER else 1.0 - y), int(np.sum(values > bound))


def _to_units(u: float, bound: float, direction: Direction) -> float:
    return bound * (u if direction is Direction.HIGHER else 1.0 - u)


def judge_threshold(values: PodValues, policy: Policy, step_seconds: float, budget: Budget) -> MetricResult:
    """The verdict of a canary-only threshold and its evidence (the stable arm is only reported)."""
    p = values.policy
    assert p.limit is not None and p.bound is not None  # the policy validator guarantees both
    canary, stable, start = values.arms()
    counted = samples(canary, stable)
    matrix, clipped = _observations(canary, p.bound, p.direction)
    present = np.isfinite(matrix.T)  # (steps, pods): values in step then pod order
    y, step_of = matrix.T[present], np.nonzero(present)[0]
    damping = persistence(matrix)[step_of]
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
    fail_bets = plug_in_bets(y, budget.alpha_fail) / damping
    fail_path = log_wealth(y, np.array([m_fail]), fail_bets)[0]
    log_fail = math.log(1.0 / budget.alpha_fail)
    crossed = np.flatnonzero(fail_path >= log_fail)

    recent = step_of >= max(values.pass_from - start, 0)
    y_pass = 1.0 - y[recent]
    pass_bets = plug_in_bets(y_pass, budget.alpha_pass) / damping[recent]
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
