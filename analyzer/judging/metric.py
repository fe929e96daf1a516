"""One metric's verdict from its prepared counts: fail, pass or inconclusive, with a reason.

* **fail** — the ratio e-process crossed its threshold with at least ``min_increase`` of absolute
  increase, or the canary broke the absolute limit with confidence (both anytime-valid);
* **pass** — the anytime-valid upper bound of the ratio is below ``pass_ratio`` (the pass
  e-process reached 1/α_pass) *and* every sufficiency guard holds: canary requests, expected
  events at stable's rate, duration; and nothing blocks a pass (e.g. bucket resolution);
* **inconclusive** — everything else, including no data. Missing data is never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.judging.evidence import StepCounts, compare_ratio, exceeds_limit, safe_exp
from analyzer.model import (
    Diagnostics,
    Estimate,
    Interval,
    MetricPolicy,
    MetricResult,
    Policy,
    Samples,
    Verdict,
)


@dataclass(frozen=True)
class SloCounts:
    """Canary counts for the absolute-limit test: events over ``limit_rate`` fail it."""

    events: np.ndarray
    total: np.ndarray
    limit_rate: float
    observed: float | None  # the canary's value on the SLO's own scale (rate, or seconds)
    describe: str  # e.g. "error rate" or "p95"


@dataclass(frozen=True)
class Prepared:
    """A metric turned into counts, ready for the shared decision."""

    name: str
    policy: MetricPolicy
    counts: StepCounts
    first_step: int  # index of counts' first step in the measurement
    estimate: Estimate
    slo: SloCounts | None = None
    blocks_pass: str | None = None  # a reason that forbids a pass (resolution)
    untestable: str | None = None  # a reason no test can run (no data, no bound)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    unit: str = "error rate"


def fmt_rate(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.3g} %"


def fmt_ratio(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "∞" if math.isinf(value) else f"{value:.3g}"


def _guards(prepared: Prepared, policy: Policy, step_seconds: float) -> list[str]:
    counts = prepared.counts
    n_c = float(counts.canary_total.sum())
    n_s = float(counts.stable_total.sum())
    stable_rate = float(counts.stable_events.sum()) / n_s if n_s > 0 else 0.0
    unmet = []
    if n_c < policy.min_canary_requests:
        unmet.append(f"{n_c:,.0f} canary requests (need {policy.min_canary_requests:,.0f})")
    if n_c * stable_rate < policy.min_expected_events:
        unmet.append(
            f"{n_c * stable_rate:.3g} expected canary events at stable's rate (need {policy.min_expected_events:g})"
        )
    duration = counts.steps * step_seconds
    if duration < policy.min_duration_seconds:
        unmet.append(f"{duration:g} s of data (need {policy.min_duration_seconds:g} s)")
    return unmet


def _samples(counts: StepCounts) -> Samples:
    return Samples(
        canary_requests=float(counts.canary_total.sum()),
        stable_requests=float(counts.stable_total.sum()),
        canary_events=float(counts.canary_events.sum()),
        stable_events=float(counts.stable_events.sum()),
        steps=counts.steps,
    )


def _result(prepared: Prepared, verdict: Verdict, reason: str, **fields: object) -> MetricResult:
    p = prepared.policy
    return MetricResult(
        name=prepared.name,
        kind=p.kind,
        verdict=verdict,
        reason=reason,
        critical=p.critical,
        dry_run=p.dry_run,
        weight=p.weight,
        estimate=prepared.estimate,
        samples=_samples(prepared.counts),
        **fields,
    )


def decide(prepared: Prepared, policy: Policy, step_seconds: float, log_fail_threshold: float) -> MetricResult:
    """The verdict of one metric and the evidence behind it."""
    p = prepared.policy
    threshold = safe_exp(log_fail_threshold)
    if prepared.untestable is not None or prepared.counts.steps == 0:
        reason = prepared.untestable or "no steps left after warm-up: not enough data"
        return _result(
            prepared,
            Verdict.INCONCLUSIVE,
            reason,
            interval=Interval(lower=None, upper=None),
            e_value=1.0,
            e_threshold=threshold,
            p_value=1.0,
            pass_e_value=1.0,
            diagnostics=prepared.diagnostics,
        )

    log_pass_threshold = math.log(1.0 / policy.alpha_pass)
    ratio = compare_ratio(
        prepared.counts,
        p.fail_ratio,
        p.pass_ratio,
        p.min_increase,
        policy.prior_scale,
        log_fail_threshold,
        log_pass_threshold,
    )
    notes = list(prepared.diagnostics.notes)
    slo_fail_step: int | None = None
    slo_e: float | None = None
    if prepared.slo is not None:
        slo = prepared.slo
        limit = exceeds_limit(slo.events, slo.total, slo.limit_rate, policy.prior_scale, log_fail_threshold)
        slo_e, slo_fail_step = safe_exp(limit.log_e), limit.fail_step
        if p.slo is not None and slo.observed is not None:
            if slo.observed > p.slo.limit and slo_fail_step is None:
                notes.append(f"canary {slo.describe} is above the SLO limit, not yet with confidence")
            elif p.slo.warning is not None and slo.observed > p.slo.warning:
                notes.append(f"warning: canary {slo.describe} is above the warning level {p.slo.warning:g}")

    diagnostics = prepared.diagnostics.model_copy(update={"slo_e_value": slo_e, "notes": notes})
    steps = [s for s in (ratio.fail_step, slo_fail_step) if s is not None]
    fail_step = prepared.first_step + min(steps) if steps else None
    common = {
        "interval": Interval(lower=ratio.lower, upper=ratio.upper),
        "e_value": safe_exp(ratio.log_e_fail),
        "e_threshold": threshold,
        "p_value": min(1.0, 1.0 / safe_exp(ratio.log_e_fail)),
        "pass_e_value": safe_exp(ratio.log_e_pass),
        "fail_step": fail_step,
        "diagnostics": diagnostics,
    }
    est = prepared.estimate
    rates = f"canary {fmt_rate(est.canary_rate)} vs stable {fmt_rate(est.stable_rate)}"
    if ratio.fail_step is not None:
        reason = (
            f"regression: {prepared.unit} {rates}, ratio {fmt_ratio(est.ratio)} is above"
            f" {p.fail_ratio:g} with confidence (lower bound {fmt_ratio(ratio.lower)}) since step {fail_step}"
        )
        return _result(prepared, Verdict.FAIL, reason, **common)
    if slo_fail_step is not None and prepared.slo is not None and p.slo is not None:
        reason = (
            f"SLO breach: canary {prepared.slo.describe} is above the limit {p.slo.limit:g}"
            f" with confidence since step {fail_step}"
        )
        return _result(prepared, Verdict.FAIL, reason, **common)
    if prepared.blocks_pass is not None:
        return _result(prepared, Verdict.INCONCLUSIVE, prepared.blocks_pass, **common)
    unmet = _guards(prepared, policy, step_seconds)
    shown = ratio.log_e_pass >= log_pass_threshold
    if shown and not unmet:
        reason = (
            f"no worse than stable: {prepared.unit} {rates}, ratio {fmt_ratio(est.ratio)},"
            f" upper bound {fmt_ratio(ratio.upper)} < {p.pass_ratio:g}"
        )
        return _result(prepared, Verdict.PASS, reason, **common)
    if unmet:
        reason = "not enough data to pass: " + "; ".join(unmet)
    else:
        reason = (
            f"undecided: {prepared.unit} {rates}, ratio {fmt_ratio(est.ratio)}, upper bound"
            f" {fmt_ratio(ratio.upper)} not yet below {p.pass_ratio:g}"
        )
    return _result(prepared, Verdict.INCONCLUSIVE, reason, **common)
