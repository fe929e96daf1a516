"""One metric's verdict from its prepared counts: fail, pass or inconclusive, with a reason.

A metric is one or more *comparisons* of counts (the error ratio; for latency, the slow shares at
the bucket bounds around stable's quantile). Their fail e-processes are averaged (an average of
e-processes is one) and the metric fails when the average reaches its threshold; it passes only
when every comparison passes (an intersection-union test needs no correction).

* **fail** — the average ratio e-process against r ≤ fail boundary crossed, or the canary — not
  the whole service — broke the absolute limit with confidence (anytime-valid);
* **pass** — every comparison's ratio is shown below its pass boundary *and* every sufficiency
  guard holds: canary requests, expected events at stable's rate, duration;
* **inconclusive** — everything else: no data, undecided, both arms breaking the SLO
  ("service-wide"). Missing data is never a pass.

The pod term (:mod:`analyzer.stats.heterogeneity`): with per-pod data, the realised log ratio is
the version's effect plus a pod term of sd s, which does not shrink with traffic. Both tests carry it
in their nulls — the marginal likelihood of the version at the boundary with its pods drawn at
random (:func:`analyzer.judging.evidence.fail_log_e`, :func:`analyzer.judging.evidence.pass_log_e`) —
and so spend their α whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.judging.comparison import Comparison, Tested, test_comparison
from analyzer.judging.evidence import StepCounts, first_crossing, log_mean_exp, lower_bound, rate_difference, safe_exp
from analyzer.judging.slo import SloCounts, slo_test
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
class Prepared:
    """A metric turned into comparisons of counts, ready for the shared decision."""

    name: str
    policy: MetricPolicy
    comparisons: tuple[Comparison, ...]  # the first one is reported in the estimate and interval
    first_step: int  # index of the counts' first step in the measurement
    estimate: Estimate
    slo: SloCounts | None = None
    untestable: str | None = None  # a reason no test can run (no data, no bound)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    unit: str = "error rate"
    pods_known: bool = False  # the data carried a per-pod breakdown
    pass_from: int = 0  # index in the counts where the current analysis step began: pass evidence starts there

    @property
    def counts(self) -> StepCounts:
        return self.comparisons[0].counts


@dataclass(frozen=True)
class Budget:
    """The error rates one metric may spend: its share of α_fail, of the SLO tests' α, and α_pass."""

    alpha_fail: float
    alpha_slo: float
    alpha_pass: float

    @property
    def e_threshold(self) -> float:
        return 1.0 / self.alpha_fail


def _fmt_observed(slo: SloCounts, value: float | None) -> str:
    """An SLO value on its own scale: a rate in percent, a quantile in seconds."""
    if value is None:
        return "n/a"
    return fmt_rate(value) if slo.describe == "error rate" else f"{value:.3g} s"


def fmt_rate(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.3g} %"


def fmt_ratio(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "∞" if math.isinf(value) else f"{value:.3g}"


def _guards(counts: StepCounts, policy: Policy, step_seconds: float) -> list[str]:
    """The sufficiency guards a pass needs, on the stretch the pass evidence comes from."""
    n_c = float(counts.canary_total.sum())
    stable_rate = counts.rates()[1] or 0.0
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


def metric_result(
    name: str, policy: MetricPolicy, verdict: Verdict, reason: str, estimate: Estimate, samples: Samples,
    **fields: object,
) -> MetricResult:
    """A metric's result with what its policy says of it (kind, critical, dry run, weight); ``fields`` are
    the evidence (interval — none when not given —, e-values, p-value, diagnostics…)."""
    fields.setdefault("interval", Interval(lower=None, upper=None))
    return MetricResult(
        name=name,
        kind=policy.kind,
        verdict=verdict,
        reason=reason,
        critical=policy.critical,
        dry_run=policy.dry_run,
        weight=policy.weight,
        estimate=estimate,
        samples=samples,
        **fields,
    )


def _result(prepared: Prepared, verdict: Verdict, reason: str, **fields: object) -> MetricResult:
    return metric_result(prepared.name, prepared.policy, verdict, reason, prepared.estimate,
                         _samples(prepared.counts), **fields)


def _pod_note(prepared: Prepared, tested: list[Tested]) -> str:
    if not prepared.pods_known:
        return "could not check pod variation: the data has no per-pod breakdown"
    variation = prepared.comparisons[0].variation
    if variation is None:
        return "could not check pod variation: no arm has two pods with events"
    first = tested[0]
    return (
        f"pod variation: sd of log rate ≤ {variation.tau:.2g} (80 % bound, {variation.stable_pods} stable and"
        f" {variation.canary_pods} canary pods): a fail allows for pods of sd {first.pod_sd:.2g} around"
        f" {fmt_ratio(first.fail_boundary)}, a pass for pods of sd {variation.sd_pass:.2g} around its boundary"
    )


def _inconclusive_untestable(prepared: Prepared, budget: Budget) -> MetricResult:
    reason = prepared.untestable or "no steps left after warm-up: not enough data"
    return _result(
        prepared,
        Verdict.INCONCLUSIVE,
        reason,
        interval=Interval(lower=None, upper=None),
        e_value=1.0,
        e_threshold=budget.e_threshold,
        p_value=1.0,
        pass_e_value=1.0,
        diagnostics=prepared.diagnostics,
    )


def _fail_paths(tested: list[Tested], recent: list[Tested], pass_from: int) -> np.ndarray:
    """The average of every comparison's fail e-process over the whole window and, when the current
    analysis step began later, also from that step on (1 before it): a regression that starts late is
    not drowned by the good minutes before it, and an average of e-processes is one (no α split)."""
    paths = [t.evidence.fail_path for t in tested]
    for t in recent:
        paths.append(np.concatenate([np.zeros(pass_from), t.evidence.fail_path]))
    return log_mean_exp(paths)


def decide(prepared: Prepared, policy: Policy, step_seconds: float, budget: Budget) -> MetricResult:
    """The verdict of one metric and the evidence behind it."""
    if prepared.untestable is not None or prepared.counts.steps == 0:
        return _inconclusive_untestable(prepared, budget)
    p = prepared.policy
    n_tests = len(prepared.comparisons)
    alpha_cs = budget.alpha_fail
    log_fail, log_pass = math.log(1.0 / alpha_cs), math.log(1.0 / budget.alpha_pass)
    tested = [test_comparison(c, p, policy.prior_scale, log_pass) for c in prepared.comparisons]
    pass_from = min(prepared.pass_from, prepared.counts.steps)
    recent, recent_counts = tested, prepared.counts
    if 0 < pass_from < prepared.counts.steps:
        since = [c.since(pass_from) for c in prepared.comparisons]
        recent = [test_comparison(c, p, policy.prior_scale, log_pass) for c in since]
        recent_counts = since[0].counts
    fail_path = _fail_paths(tested, recent if recent is not tested else [], pass_from)
    veto = rate_difference(prepared.counts) >= p.min_increase if p.min_increase > 0 else None
    ratio_fail_step = first_crossing(fail_path, log_fail, veto)

    notes = list(prepared.diagnostics.notes)
    notes.append(_pod_note(prepared, tested))
    dispersion = max(t.evidence.dispersion for t in tested)
    if dispersion > 1.5:
        notes.append(f"minute-to-minute variation is {dispersion:.3g}× binomial: each minute's evidence is tempered")
    slo_fail_step, slo_e = slo_test(prepared, policy, budget, notes)

    first, current = tested[0], recent[0]
    looks = [prepared.counts.steps - 1] if ratio_fail_step is None else [ratio_fail_step, prepared.counts.steps - 1]
    lower = lower_bound(first.evidence, looks, math.log(n_tests / alpha_cs))
    diagnostics = prepared.diagnostics.model_copy(
        update={
            "slo_e_value": slo_e,
            "notes": notes,
            "dispersion": dispersion,
            "pod_sd": first.pod_sd if prepared.pods_known else None,
            "fail_boundary": first.fail_boundary,
            "pass_boundary": current.pass_ratio,
        }
    )
    log_e_fail = float(max(fail_path.max(), 0.0))
    common = {
        "interval": Interval(lower=lower, upper=current.evidence.upper),
        "e_value": safe_exp(log_e_fail),
        "e_threshold": 1.0 / alpha_cs,
        "p_value": min(1.0, 1.0 / safe_exp(log_e_fail)),
        "pass_e_value": safe_exp(min(t.evidence.log_e_pass for t in recent)),
        "diagnostics": diagnostics,
    }
    upper, pass_at = current.evidence.upper, current.pass_ratio
    est = prepared.estimate
    rates = f"canary {fmt_rate(est.canary_rate)} vs stable {fmt_rate(est.stable_rate)}"
    if ratio_fail_step is not None:
        at = prepared.first_step + ratio_fail_step
        reason = (
            f"regression: {prepared.unit} {rates}, ratio {fmt_ratio(est.ratio)} is above"
            f" {p.fail_ratio:g} with confidence (lower bound {fmt_ratio(lower)}) since look {at + 1}"
        )
        return _result(prepared, Verdict.FAIL, reason, fail_step=at, **common)
    if slo_fail_step is not None and prepared.slo is not None and p.slo is not None:
        slo = prepared.slo
        at = prepared.first_step + slo_fail_step
        stable_share = float(slo.stable_events.sum() / slo.stable_total.sum()) if slo.stable_total.sum() > 0 else 0.0
        if stable_share > slo.limit_rate:
            reason = (
                f"service-wide SLO breach: canary and stable {slo.describe} are both above the limit {p.slo.limit:g}"
                f" (stable {_fmt_observed(slo, slo.stable_observed)}): not the canary's fault; traffic stays on stable"
            )
            return _result(prepared, Verdict.INCONCLUSIVE, reason, **common)
        reason = (
            f"SLO breach: canary {slo.describe} {_fmt_observed(slo, slo.observed)} is above the limit {p.slo.limit:g}"
            f" with confidence since look {at + 1}, while stable's is within it"
        )
        return _result(prepared, Verdict.FAIL, reason, fail_step=at, **common)
    if pass_from >= prepared.counts.steps > 0 and prepared.pass_from > 0:
        # The current analysis step began at or after the last step: nothing of it to pass on yet.
        unmet, shown = ["no complete step since this analysis step began"], False
    else:
        unmet = _guards(recent_counts, policy, step_seconds)
        shown = all(t.evidence.log_e_pass >= log_pass for t in recent)
    if shown and not unmet:
        reason = (
            f"no worse than stable: {prepared.unit} {rates}, ratio {fmt_ratio(est.ratio)},"
            f" upper bound {fmt_ratio(upper)} ≤ {fmt_ratio(pass_at)}"
        )
        return _result(prepared, Verdict.PASS, reason, **common)
    if unmet:
        reason = "not enough data to pass: " + "; ".join(unmet)
    else:
        reason = (
            f"undecided: {prepared.unit} {rates}, ratio {fmt_ratio(est.ratio)}, upper bound"
            f" {fmt_ratio(upper)} not yet below {fmt_ratio(pass_at)}"
        )
    return _result(prepared, Verdict.INCONCLUSIVE, reason, **common)
