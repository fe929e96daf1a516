"""Per-pod gauges (CPU, memory…): canary pods against stable pods, valid over every look.

A gauge's level differs from pod to pod for reasons that have nothing to do with the version (node,
load balancing, cache), and that difference does not shrink with time: the samples are the *pods*.
So each pod is reduced to the mean of its log values over the steps tested, and the canary pods'
means are compared with the stable pods' means by a two-sample Student t test (pooled variance):
under "the canary's pods are drawn like stable's, shifted by at most log(fail_ratio)" and normal
pod means on the log scale, the statistic is exactly t with n_c + n_s - 2 degrees of freedom at a
fixed look, with 1-3 canary and 2-10 stable pods as well as with many.

Over looks, the test is read at *checkpoints* only — after 3, 6, 12, 24… tested steps
(:data:`FIRST_FAIL_STEPS`: one minute's noise is not yet averaged out) — and the j-th checkpoint
spends α/(j(j+1)) (Σ = α): a union bound over a geometric grid of looks, the way
stitched confidence sequences are built (Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2), §3). A look between
checkpoints reports the last one, so the chance of ever failing a canary whose pods are no worse
than the margin is ≤ α however often Argo asks. Evidence grows little after the first steps anyway
(the pod term does not average out), which is why α is spent early.

* **fail** — at a checkpoint, the lower confidence bound of the worse-direction ratio of geometric
  means (canary ÷ stable, or stable ÷ canary when lower is worse) is above ``fail_ratio``;
* **pass** — at a pass checkpoint, counted from the current analysis step and starting once
  ``min_duration_seconds`` of data exist (then ×2, ×4…, spending α_pass the same way), the upper
  bound is below ``pass_ratio``;
* **inconclusive** — otherwise; in particular when the pods cannot tell: one canary and one stable
  pod (no degrees of freedom), or pods so different that the bounds stay wide.

Values ≤ 0 have no logarithm and are left out (with a note): compare counts such as restarts with a
threshold (:mod:`analyzer.judging.threshold`) instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from analyzer.judging.metric import Budget, fmt_ratio
from analyzer.judging.metric import metric_result as result
from analyzer.judging.pod_values import PodValues, samples
from analyzer.model import Diagnostics, Direction, Estimate, Interval, MetricResult, Policy, Verdict
from analyzer.stats.eprocess import FloatArray

#: The first fail checkpoint, in tested steps: a few minutes average the per-minute noise out, which
#: buys more than the early look it replaces (measured: bench/gauges.py; ×1.5 with 2+8 pods at pod
#: sd 0.05 fails 68 % of runs instead of 55 % with a checkpoint at every power of 2 from 1).
FIRST_FAIL_STEPS = 3


def checkpoints(first: int, available: int) -> list[int]:
    """Tested-step counts at which the test is read: first, 2·first, 4·first… up to ``available``."""
    marks, k = [], max(first, 1)
    while k <= available:
        marks.append(k)
        k *= 2
    return marks


def checkpoint_alpha(alpha: float, j: int) -> float:
    """The error rate the j-th checkpoint (1-based) spends: α/(j(j+1)), which sums to α."""
    return alpha / (j * (j + 1))


@dataclass(frozen=True)
class PodComparison:
    """The t test's ingredients on one stretch of steps: the worse-direction log ratio and its spread."""

    diff: float  # mean of canary pods' log means - stable's, signed so that > 0 is worse
    se: float  # its standard error (pooled variance)
    df: int
    canary_pods: int
    stable_pods: int
    canary_level: float  # geometric mean of the canary pods' levels, in the metric's units
    stable_level: float

    def bound(self, alpha: float, side: int) -> float:
        """The one-sided (1 - alpha) confidence bound on the log ratio: side -1 lower, +1 upper."""
        return self.diff - side * float(special.stdtrit(self.df, alpha)) * self.se  # t's isf(α) = -ppf(α)

    def p_value(self, log_margin: float) -> float:
        """One-sided p-value of 'log ratio ≤ log_margin'."""
        if self.se == 0:
            return 0.0 if self.diff > log_margin else 1.0
        return float(special.stdtr(self.df, -(self.diff - log_margin) / self.se))  # t's survival function


def _pod_means(logs: FloatArray) -> FloatArray:
    """Each pod's mean log value over the stretch; pods without a value there are left out."""
    finite = np.isfinite(logs)
    counts = finite.sum(axis=1)
    sums = np.where(finite, logs, 0.0).sum(axis=1)
    seen = counts > 0
    means: FloatArray = sums[seen] / counts[seen]
    return means


def compare(canary_logs: FloatArray, stable_logs: FloatArray, sign: float) -> PodComparison | None:
    """The pooled two-sample t comparison of the pods' log means, or None when the pods cannot tell."""
    c, s = _pod_means(canary_logs), _pod_means(stable_logs)
    df = c.size + s.size - 2
    if c.size < 1 or s.size < 1 or df < 1:
        return None
    pooled = (np.sum((c - c.mean()) ** 2) + np.sum((s - s.mean()) ** 2)) / df
    se = math.sqrt(pooled * (1.0 / c.size + 1.0 / s.size))
    return PodComparison(
        diff=sign * float(c.mean() - s.mean()),
        se=se,
        df=df,
        canary_pods=int(c.size),
        stable_pods=int(s.size),
        canary_level=math.exp(float(c.mean())),
        stable_level=math.exp(float(s.mean())),
    )


def _logs(values: FloatArray) -> tuple[FloatArray, int]:
    """Log values (NaN where missing or ≤ 0) and how many values ≤ 0 were left out."""
    non_positive = int(np.sum(values <= 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan), non_positive


def judge_gauge(values: PodValues, policy: Policy, step_seconds: float, budget: Budget) -> MetricResult:
    """The verdict of one per-pod gauge metric, canary pods against stable pods, and its evidence."""
    p = values.policy
    canary, stable, start = values.arms()
    counted = samples(canary, stable)
    (log_c, zeros_c), (log_s, zeros_s) = _logs(canary), _logs(stable)
    sign = 1.0 if p.direction is Direction.HIGHER else -1.0
    worse = "canary ÷ stable" if sign > 0 else "stable ÷ canary"
    notes = [f"the ratio is {worse} of the pods' geometric means: above 1 is worse ({p.direction.value} is worse)"]
    if zeros_c + zeros_s:
        notes.append(f"{zeros_c + zeros_s} values ≤ 0 left out (compared on the log scale)")
    steps = canary.shape[1]
    whole = compare(log_c, log_s, sign) if steps else None
    estimate = Estimate(
        ratio=math.exp(whole.diff) if whole else None,
        canary=whole.canary_level if whole else None,
        stable=whole.stable_level if whole else None,
    )
    if whole is None:
        reason = (
            "no data after warm-up" if steps == 0 or not np.isfinite(log_c).any() else
            "the pods cannot tell: a comparison needs at least one canary and one stable pod with values and"
            " three pods in all (with fewer there is no spread to judge a difference by)"
        )
        return result(values.name, p, Verdict.INCONCLUSIVE, reason, estimate, counted,
                      diagnostics=Diagnostics(notes=notes))

    log_fail, log_pass = math.log(p.fail_ratio), math.log(p.pass_ratio)
    fail_at, lower, p_any = None, None, 1.0
    for j, k in enumerate(checkpoints(FIRST_FAIL_STEPS, steps), 1):
        look = compare(log_c[:, :k], log_s[:, :k], sign)
        if look is None:
            continue
        alpha_j = checkpoint_alpha(budget.alpha_fail, j)
        p_any = min(p_any, look.p_value(log_fail) * j * (j + 1))
        lower = look.bound(alpha_j, -1)
        if fail_at is None and lower > log_fail:
            fail_at = k - 1
            break

    pass_from = min(max(values.pass_from - start, 0), steps)
    first_pass = max(1, math.ceil(policy.min_duration_seconds / step_seconds))
    marks = checkpoints(first_pass, steps - pass_from)
    upper, passing = None, None
    for j, k in enumerate(marks, 1):  # a pass at any checkpoint stands: the union bound covers them all
        passing = compare(log_c[:, pass_from : pass_from + k], log_s[:, pass_from : pass_from + k], sign)
        if passing is not None:
            upper = passing.bound(checkpoint_alpha(budget.alpha_pass, j), +1)
            if upper < log_pass:
                break
    pods = f"{whole.canary_pods} canary and {whole.stable_pods} stable pods"
    notes.append(f"pooled t test on the pods' log means: {pods}, {whole.df} degrees of freedom")
    fields = {
        "interval": Interval(
            lower=math.exp(lower) if lower is not None else None, upper=math.exp(upper) if upper is not None else None
        ),
        "p_value": min(1.0, p_any),
        "diagnostics": Diagnostics(notes=notes, fail_boundary=p.fail_ratio, pass_boundary=p.pass_ratio),
    }
    levels = f"canary {whole.canary_level:.3g} vs stable {whole.stable_level:.3g}"
    if fail_at is not None and lower is not None:
        reason = (
            f"regression: {levels} ({pods}), ratio {fmt_ratio(estimate.ratio)} is above {p.fail_ratio:g} with"
            f" confidence (lower bound {fmt_ratio(math.exp(lower))}) since look {start + fail_at + 1}"
        )
        return result(values.name, p, Verdict.FAIL, reason, estimate, counted, fail_step=start + fail_at, **fields)
    if upper is not None and upper < log_pass:
        reason = (
            f"no worse than stable: {levels} ({pods}), ratio {fmt_ratio(estimate.ratio)},"
            f" upper bound {fmt_ratio(math.exp(upper))} < {p.pass_ratio:g}"
        )
        return result(values.name, p, Verdict.PASS, reason, estimate, counted, **fields)
    if not marks:
        have = (steps - pass_from) * step_seconds
        reason = f"not enough data to pass: {have:g} s of data (need {policy.min_duration_seconds:g} s)"
    elif passing is None:
        reason = "the pods cannot tell: too few pods with values since this analysis step began"
    else:
        reason = (
            f"undecided: {levels} ({pods}), ratio {fmt_ratio(estimate.ratio)}, upper bound"
            f" {fmt_ratio(math.exp(upper) if upper is not None else None)} not yet below {p.pass_ratio:g}"
        )
    return result(values.name, p, Verdict.INCONCLUSIVE, reason, estimate, counted, **fields)
