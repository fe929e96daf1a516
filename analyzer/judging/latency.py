"""Prepare a latency histogram for the shared decision: a quantile becomes counts of slow requests.

Stable's quantile is read from its *calibration* steps (the warm-up, at least one step, extended
until stable served ``CALIBRATION_REQUESTS``). The bounds to test are then fixed from those steps:
every finite bucket bound where stable's share of slower requests lies in
[(1-q)/``BAND``, (1-q)·``BAND``] — for p95, between 1 % and 20 % — and always the smallest bound at
or above stable's quantile × (1 + margin). The tests use only later steps, so the choice does not
depend on the data it is tested on.

At each bound the share of requests slower than it is a rate like an error rate, compared
canary/stable by the same machinery; the metric fails when the *average* of the bounds' fail
e-processes crosses (valid with no split of α), and passes when *every* bound is shown
non-inferior — below ``pass_ratio``, or below the share ratio that a slowdown of ``pass_slowdown``
(20 % by default) would give at that bound, read from stable's own buckets, whichever is larger:
a pass margin in latency terms, since a share ratio of 1.5 at a tail bound is only ~8 % of p95 on
a typical distribution. A canary whose quantile moves up has more requests above every bound near it, so
the buckets people have (the client libraries' defaults, a factor 2-2.5 apart) resolve a +50 %
regression: the bound above and the bound below stable's quantile both see it.

Buckets are repaired the way PromQL's ``histogram_quantile`` repairs them (a running maximum
along ``le``), because summed per-series ``increase()`` can dip by a fraction of a count.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from analyzer.judging.comparison import Comparison
from analyzer.judging.evidence import StepCounts
from analyzer.judging.kept_lists import Column, Lists, Origin, list_key, steps_column
from analyzer.judging.metric import Prepared
from analyzer.judging.pods import arm_pods
from analyzer.judging.slo import SloCounts
from analyzer.model import Diagnostics, Estimate, HistogramMetric, MetricPolicy, fmt_le
from analyzer.stats.diagnostics import bootstrap_quantile_ratio, chi2_homogeneity
from analyzer.stats.histogram import (
    histogram_quantiles,
    slow_counts,
    smallest_bound_at_or_above,
    suggest_bounds,
    survival_at,
)

#: Stable requests needed before stable's quantile fixes the bounds to test.
CALIBRATION_REQUESTS = 200.0
#: Bounds are tested where stable's slow share is within this factor of 1 - q.
BAND = 4.0


def _calibration_steps(stable_totals: np.ndarray, warmup_steps: int) -> int:
    """Number of leading steps used to fix the bounds: ≥ max(warm-up, 1), until stable has enough requests."""
    needed = max(warmup_steps, 1)
    cumulative = np.cumsum(stable_totals)
    enough = np.flatnonzero(cumulative >= CALIBRATION_REQUESTS)
    first_enough = int(enough[0]) + 1 if enough.size else stable_totals.size + 1
    return max(needed, first_enough)


def tested_bounds(le: list[float], calibration: np.ndarray, q: float, anchor: int) -> list[int]:
    """Indices of the bounds to test: stable's slow share within the band around 1 - q, and the anchor."""
    share = 1.0 - calibration[:-1] / calibration[-1]
    tail = 1.0 - q
    in_band = [j for j in range(len(le) - 1) if tail / BAND <= share[j] <= tail * BAND]
    return sorted({anchor, *in_band}, key=lambda j: (j != anchor, j))


def _running_max(rows: np.ndarray) -> np.ndarray:
    """PromQL's ensureMonotonic: a running maximum along le, row by row."""
    return np.maximum.accumulate(rows, axis=-1) if rows.size else rows


def _dips(rows: np.ndarray) -> np.ndarray:
    """The largest dip each row's repair fills."""
    dips: np.ndarray = np.max(_running_max(rows) - rows, axis=-1, initial=0.0)
    return dips


def _repaired(
    name: str, data: HistogramMetric, rows: list[list[float]], columns: list[Column], *path: str
) -> tuple[np.ndarray, float]:
    """The list of rows at ``path`` repaired (:func:`_running_max`), and the largest dip repaired: row by row,
    so the rows the last look had the same keep its repair (:meth:`analyzer.judging.kept_lists.Column.derived`).
    Its column joins ``columns``, the metric's counts' origin."""
    column = steps_column(list_key(name, data, *path), rows, len(data.le))
    columns.append(column)
    return column.derived("repaired", _running_max), float(np.max(column.derived("dips", _dips), initial=0.0))


def _slo_counts(
    le: list[float],
    canary: np.ndarray,
    stable: np.ndarray,
    policy: MetricPolicy,
    observed: tuple[float | None, float | None],
    notes: list[str],
    origin: Origin,
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
        stable_events=slow_counts(stable, bound),
        stable_total=stable[:, -1],
        limit_rate=1.0 - policy.quantile,
        observed=observed[0],
        stable_observed=observed[1],
        describe=label,
        origin=replace(origin, label=f"slo at bound {bound}"),
    )


def slowdown_share_ratio(le: list[float], calibration: np.ndarray, j: int, slowdown: float) -> float:
    """The slow-share ratio at bound j that a canary slower than stable by ``slowdown`` would show.

    A canary whose latencies are stable's times (1 + s) has S_c(b) = S(b / (1 + s)), S stable's
    survival (interpolated from its calibration buckets): the ratio S(b / (1 + s)) / S(b).
    """
    if slowdown <= 0:
        return 0.0
    at_bound = survival_at(le, calibration, le[j])
    if not at_bound > 0:
        return 0.0
    return survival_at(le, calibration, le[j] / (1.0 + slowdown)) / at_bound


def _comparison(
    canary: np.ndarray,
    stable: np.ndarray,
    pods: dict[str, list[np.ndarray]] | None,
    j: int,
    le: list[float],
    pass_ratio: float,
    origin: Origin,
) -> Comparison:
    """The comparison at bound j; ``pods`` cover the whole window (the steps before ``origin.start`` are their
    warm-up)."""
    start = origin.start
    n_c, n_s = canary[:, -1], stable[:, -1]
    e_c, e_s = slow_counts(canary, j), slow_counts(stable, j)
    canary_pods = stable_pods = None
    if pods is not None:
        canary_pods = arm_pods(
            [slow_counts(r, j) for r in pods["canary"]], [r[:, -1] for r in pods["canary"]], e_c, n_c, start
        )
        stable_pods = arm_pods(
            [slow_counts(r, j) for r in pods["stable"]], [r[:, -1] for r in pods["stable"]], e_s, n_s, start
        )
    origin = replace(origin, label=f"bound {j}")
    counts = StepCounts(e_c, n_c, e_s, n_s, canary_pods=canary_pods, stable_pods=stable_pods, origin=origin)
    return Comparison(counts, label=f"le={fmt_le(le[j])}", pass_ratio=pass_ratio)


def prepare_histogram(
    name: str, data: HistogramMetric, policy: MetricPolicy, warmup_steps: int, descriptive: bool = False
) -> Prepared:
    """The latency metric's comparisons at the tested bounds; ``descriptive`` adds the χ² homogeneity
    p-value and the bootstrap quantile-ratio interval to its diagnostics (they never decide: off the
    live hot path, computed for the report page and the offline judge)."""
    le = data.le
    q = policy.quantile
    columns: list[Column] = []
    canary_all, dip_c = _repaired(name, data, data.canary, columns, "canary")
    stable_all, dip_s = _repaired(name, data, data.stable, columns, "stable")
    start = min(_calibration_steps(stable_all[:, -1], warmup_steps), data.steps)
    canary, stable = canary_all[start:], stable_all[start:]
    pods = None
    if data.pods is not None:
        pods = {
            arm: [_repaired(name, data, rows, columns, "pods", arm, pod)[0] for pod, rows in by_pod.items()]
            for arm, by_pod in (("canary", data.pods.canary), ("stable", data.pods.stable))
        }
    label = f"p{q * 100:g}"
    pooled_c, pooled_s = canary.sum(axis=0), stable.sum(axis=0)
    calibration = stable_all[:start].sum(axis=0)
    # One vectorised call for the three quantiles (NaN where an arm has no requests).
    quantiles = histogram_quantiles(q, le, np.stack([pooled_c, pooled_s, calibration]))
    q_c, q_s = (None if math.isnan(v) else float(v) for v in quantiles[:2])
    q_cal = float(quantiles[2])
    notes: list[str] = []
    if max(dip_c, dip_s) > 0:
        notes.append(
            f"buckets dipped along le by up to {max(dip_c, dip_s):.3g} (PromQL extrapolates each series on its own):"
            " repaired as histogram_quantile does"
        )
    untestable: str | None = None
    anchor: int | None = None
    if calibration[-1] < CALIBRATION_REQUESTS:
        untestable = (
            f"calibrating: stable served {calibration[-1]:,.0f} requests so far; {CALIBRATION_REQUESTS:g}"
            f" are needed to fix the tested bounds from its {label}"
        )
    elif canary.shape[0] == 0:
        untestable = "calibrating: the tested bounds were fixed on the steps so far; no test steps yet"
    else:
        beyond = calibration[-2] < q * calibration[-1]  # the quantile lies in the +Inf bucket
        anchor = None if beyond else smallest_bound_at_or_above(le, q_cal * (1.0 + policy.margin))
        if anchor is None:
            untestable = (
                f"resolution: stable {label} is beyond the largest finite bucket"
                f" bound {le[-2]:g} s; add bounds such as {suggest_bounds(q_cal, policy.margin)}"
            )
    bounds = tested_bounds(le, calibration, q, anchor) if anchor is not None else [len(le) - 2]
    origin = Origin(Lists(tuple(columns)), "", start)
    comparisons = tuple(
        _comparison(canary, stable, pods, j, le, slowdown_share_ratio(le, calibration, j, policy.pass_slowdown), origin)
        for j in bounds
    )
    tau = le[anchor] if anchor is not None else None
    first = comparisons[0].counts
    share_c, share_s = first.rates()
    estimate = Estimate(
        ratio=share_c / share_s if share_c is not None and share_s else None,
        canary=q_c,
        stable=q_s,
        canary_rate=share_c,
        stable_rate=share_s,
    )
    n_c, n_s = canary[:, -1], stable[:, -1]
    if untestable is None and (n_c.sum() <= 0 or n_s.sum() <= 0):
        arm = "canary" if n_c.sum() <= 0 else "stable"
        untestable = f"no data: the {arm} served no requests after calibration"
    slo = _slo_counts(le, canary, stable, policy, (q_c, q_s), notes, origin)
    diagnostics = Diagnostics(
        threshold_seconds=tau,
        resolution=tau / q_cal - 1.0 if tau is not None and q_cal > 0 else None,
        tested_bounds=[le[j] for j in bounds] if anchor is not None else None,
        suggested_buckets=suggest_bounds(q_cal, policy.margin)
        if untestable and untestable.startswith("resolution")
        else None,
        chi2_p_value=chi2_homogeneity(np.diff(pooled_c, prepend=0.0), np.diff(pooled_s, prepend=0.0))
        if descriptive and untestable is None
        else None,
        quantile_ratio_interval=bootstrap_quantile_ratio(q, le, pooled_c, pooled_s)
        if descriptive and untestable is None
        else None,
        notes=notes,
    )
    return Prepared(
        name=name,
        policy=policy,
        comparisons=comparisons,
        first_step=start,
        estimate=estimate,
        slo=slo,
        untestable=untestable,
        diagnostics=diagnostics,
        unit=f"share slower than {tau:g} s" if tau is not None else "slow share",
        pods_known=data.pods is not None,
    )
