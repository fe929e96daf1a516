"""Prepare a latency histogram for the shared decision: a quantile becomes a count of slow requests.

The slow bound τ is the smallest bucket bound at or above stable's quantile × (1 + margin), with the
quantile read from stable's *calibration* steps (the warm-up, at least one step, extended until
stable served ``CALIBRATION_REQUESTS``). τ is then fixed, and the tests use only the later steps,
so the choice of τ does not depend on the data it is tested on. A canary whose quantile exceeds τ
has more than (1 - q) of its requests above τ, so "slow" replaces "error" in the rate-ratio test.

When τ lies more than ``max_resolution`` above stable's quantile the buckets cannot resolve the
slowdown of interest: the metric can still fail on a large regression, but not pass, and the
reason names the bounds to add.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.judging.evidence import StepCounts
from analyzer.judging.metric import Prepared, SloCounts
from analyzer.model import Diagnostics, Estimate, HistogramMetric, MetricPolicy
from analyzer.stats.diagnostics import bootstrap_quantile_ratio, chi2_homogeneity
from analyzer.stats.histogram import (
    histogram_quantiles,
    slow_counts,
    smallest_bound_at_or_above,
    suggest_bounds,
)

#: Stable requests needed before stable's quantile fixes the slow bound.
CALIBRATION_REQUESTS = 200.0


def _calibration_steps(stable_totals: np.ndarray, warmup_steps: int) -> int:
    """Number of leading steps used to fix τ: ≥ max(warm-up, 1), until stable has enough requests."""
    needed = max(warmup_steps, 1)
    cumulative = np.cumsum(stable_totals)
    enough = np.flatnonzero(cumulative >= CALIBRATION_REQUESTS)
    first_enough = int(enough[0]) + 1 if enough.size else stable_totals.size + 1
    return max(needed, first_enough)


def _slo_counts(
    le: list[float], canary: np.ndarray, policy: MetricPolicy, observed: float | None, notes: list[str]
) -> SloCounts | None:
    if policy.slo is None:
        return None
    bound = smallest_bound_at_or_above(le, policy.slo.limit)
    label = f"p{policy.quantile * 100:g}"
    if bound is None:
        notes.append(f"no bucket bound at or above the SLO limit {policy.slo.limit:g} s: SLO not tested")
        return None
    if le[bound] > policy.slo.limit:
        notes.append(f"SLO tested at le={le[bound]:g} s, the smallest bound above {policy.slo.limit:g} s")
    return SloCounts(
        events=slow_counts(canary, bound),
        total=canary[:, -1],
        limit_rate=1.0 - policy.quantile,
        observed=observed,
        describe=label,
    )


def prepare_histogram(name: str, data: HistogramMetric, policy: MetricPolicy, warmup_steps: int) -> Prepared:
    le = data.le
    q = policy.quantile
    canary_all = np.asarray(data.canary, dtype=np.float64).reshape(data.steps, len(le))
    stable_all = np.asarray(data.stable, dtype=np.float64).reshape(data.steps, len(le))
    start = min(_calibration_steps(stable_all[:, -1], warmup_steps), data.steps)
    canary, stable = canary_all[start:], stable_all[start:]
    label = f"p{q * 100:g}"
    pooled_c, pooled_s = canary.sum(axis=0), stable.sum(axis=0)
    calibration = stable_all[:start].sum(axis=0)
    # One vectorised call for the three quantiles (NaN where an arm has no requests).
    quantiles = histogram_quantiles(q, le, np.stack([pooled_c, pooled_s, calibration]))
    q_c, q_s = (None if math.isnan(v) else float(v) for v in quantiles[:2])
    q_cal = float(quantiles[2])
    notes: list[str] = []
    untestable: str | None = None
    blocks: str | None = None
    bound: int | None = None
    if calibration[-1] < CALIBRATION_REQUESTS:
        untestable = (
            f"calibrating: stable served {calibration[-1]:,.0f} requests so far; {CALIBRATION_REQUESTS:g}"
            f" are needed to fix the slow bound from its {label}"
        )
    elif canary.shape[0] == 0:
        untestable = "calibrating: the slow bound was fixed on the steps so far; no test steps yet"
    else:
        bound = smallest_bound_at_or_above(le, q_cal * (1.0 + policy.margin))
        if bound is None:
            untestable = (
                f"resolution: stable {label} ≈ {q_cal:.3g} s is beyond the largest finite bucket"
                f" bound {le[-2]:g} s; add bounds such as {suggest_bounds(q_cal, policy.margin)}"
            )
    tau = le[bound] if bound is not None else None
    resolution = tau / q_cal - 1.0 if tau is not None and q_cal > 0 else None
    suggested = None
    if tau is not None and resolution is not None and resolution > policy.max_resolution:
        suggested = suggest_bounds(q_cal, policy.margin)
        blocks = (
            f"inconclusive (resolution): the nearest bucket bound {tau:g} s is {resolution:.0%} above"
            f" stable's {label} {q_cal:.3g} s, too coarse to show a {policy.margin:.0%} slowdown;"
            f" add le bounds near {suggested}"
        )
    index = bound if bound is not None else len(le) - 2
    n_c, n_s = canary[:, -1], stable[:, -1]
    counts = StepCounts(
        canary_events=slow_counts(canary, index),
        canary_total=n_c,
        stable_events=slow_counts(stable, index),
        stable_total=n_s,
    )
    share_c = float(counts.canary_events.sum() / n_c.sum()) if n_c.sum() > 0 else None
    share_s = float(counts.stable_events.sum() / n_s.sum()) if n_s.sum() > 0 else None
    estimate = Estimate(
        ratio=share_c / share_s if share_c is not None and share_s else None,
        canary=q_c,
        stable=q_s,
        canary_rate=share_c,
        stable_rate=share_s,
    )
    if untestable is None and (n_c.sum() <= 0 or n_s.sum() <= 0):
        arm = "canary" if n_c.sum() <= 0 else "stable"
        untestable = f"no data: the {arm} served no requests after calibration"
    slo = _slo_counts(le, canary, policy, q_c, notes)
    diagnostics = Diagnostics(
        threshold_seconds=tau,
        resolution=resolution,
        suggested_buckets=suggested,
        chi2_p_value=chi2_homogeneity(np.diff(pooled_c, prepend=0.0), np.diff(pooled_s, prepend=0.0))
        if untestable is None
        else None,
        quantile_ratio_interval=bootstrap_quantile_ratio(q, le, pooled_c, pooled_s) if untestable is None else None,
        notes=notes,
    )
    return Prepared(
        name=name,
        policy=policy,
        counts=counts,
        first_step=start,
        estimate=estimate,
        slo=slo,
        blocks_pass=blocks,
        untestable=untestable,
        diagnostics=diagnostics,
        unit=f"share slower than {tau:g} s" if tau is not None else "slow share",
    )
