"""Our judge: Policy + Measurement → Judgment. Pure: no I/O, no clock.

Pipeline, one small stage per module: prepare each metric as per-step counts (:mod:`.ratio`,
:mod:`.latency`), decide each metric (:mod:`.metric`), combine (:mod:`.combine`).

The false-fail rate α_fail is shared by e-Bonferroni (Vovk & Wang 2021, "E-values: calibration,
combination and applications", Ann. Statist. 49(3)) over the fail tests of the judged (non-dry-run)
metrics the measurement holds: the ratio tests share 90 % of it, the absolute-limit (SLO) tests
10 %. The split depends on which metrics the data has, not on their values, so it is the same at
every look of a run. A policy metric absent from the measurement is inconclusive and spends
nothing: missing data is never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from analyzer.judging.combine import combine
from analyzer.judging.comparison import Comparison
from analyzer.judging.digest import measurement_digest
from analyzer.judging.evidence import StepCounts
from analyzer.judging.gauge import judge_gauge
from analyzer.judging.latency import prepare_histogram
from analyzer.judging.metric import Budget, Prepared, decide
from analyzer.judging.pod_values import PodValues
from analyzer.judging.ratio import prepare_ratio
from analyzer.judging.threshold import judge_threshold
from analyzer.model import (
    DATA_KIND,
    Estimate,
    GaugeMetric,
    HistogramMetric,
    Judgment,
    Kind,
    Measurement,
    MetricPolicy,
    MetricResult,
    Policy,
    RatioMetric,
)

#: Share of α_fail given to the absolute-limit (SLO) tests together, when the policy has any.
SLO_SHARE = 0.1


def budgets(policy: Policy, judged: dict[str, MetricPolicy]) -> dict[str, Budget]:
    """e-Bonferroni: α_fail split over the judged (non-dry-run) metrics the data holds, SLO tests apart.

    The ratio tests share (1 - SLO_SHARE)·α_fail equally and the SLO tests SLO_SHARE·α_fail (all of
    α_fail when no metric has an SLO). Dry-run metrics are judged at the same level as one judged
    metric but spend nothing: they cannot fail the canary.
    """
    counted = [name for name, p in judged.items() if not p.dry_run]
    with_slo = [name for name in counted if judged[name].slo is not None]
    slo_share = SLO_SHARE if with_slo else 0.0
    alpha_ratio = policy.alpha_fail * (1.0 - slo_share) / max(1, len(counted))
    alpha_slo = policy.alpha_fail * slo_share / max(1, len(with_slo))
    return {
        name: Budget(alpha_fail=alpha_ratio, alpha_slo=alpha_slo or alpha_ratio, alpha_pass=policy.alpha_pass)
        for name in judged
    }


def _missing(name: str, policy: MetricPolicy, reason: str = "no data: the measurement has no such metric") -> Prepared:
    empty = np.zeros(0)
    return Prepared(
        name=name,
        policy=policy,
        comparisons=(Comparison(StepCounts(empty, empty, empty, empty)),),
        first_step=0,
        estimate=Estimate(ratio=None, canary=None, stable=None),
        untestable=reason,
    )


def _prepare(
    name: str,
    data: RatioMetric | HistogramMetric | GaugeMetric,
    policy: MetricPolicy,
    default_warmup: int,
    descriptive: bool,
) -> Prepared | PodValues:
    warmup = policy.warmup_steps if policy.warmup_steps is not None else default_warmup
    if isinstance(data, RatioMetric):
        return prepare_ratio(name, data, policy, warmup)
    if isinstance(data, GaugeMetric):  # per-pod values: judged by analyzer.judging.gauge / .threshold
        return PodValues(name, data, policy, warmup, pass_from=0)
    return prepare_histogram(name, data, policy, warmup, descriptive)


def _decide(ready: Prepared | PodValues, policy: Policy, step_seconds: float, budget: Budget) -> MetricResult:
    if isinstance(ready, Prepared):
        return decide(ready, policy, step_seconds, budget)
    judge_values = judge_threshold if ready.policy.kind is Kind.THRESHOLD else judge_gauge
    return judge_values(ready, policy, step_seconds, budget)


def judge(
    measurement: Measurement,
    policy: Policy,
    unavailable: Mapping[str, str] | None = None,
    pass_from_step: int | None = None,
    descriptive: bool = False,
    input_digest: str | None = None,
) -> Judgment:
    """Judge the canary on every metric of the measurement (and every metric the policy names).

    ``pass_from_step`` (0-based, in the measurement's steps) is where the current analysis step of
    the Rollout began, e.g. after a ``setWeight``: pass evidence and its sufficiency guards come only
    from the steps since, so that each step's analysis checks that step's traffic; fail evidence still
    uses the whole window, averaged with a fresh e-process from that step on (valid, and quick on a
    regression that starts late).

    ``unavailable`` names metrics whose data the source could not trust (a series missing on one
    arm, a partial response, stale data), each with the reason: they are inconclusive with that
    reason whatever the measurement holds for them — never a pass, never a fail.

    ``descriptive`` adds the diagnostics that never decide (latency's χ² homogeneity p-value and
    bootstrap quantile-ratio interval): the offline judge and the report page ask for them, the live
    service does not pay for them on every look.

    ``input_digest``: the measurement's :func:`~analyzer.judging.digest.measurement_digest`, when the
    caller has it already (the service keys its repeated looks by it), so that it is not computed twice.

    Raises :class:`~analyzer.errors.InputError` when the policy gives a metric another kind.
    """
    policies: dict[str, MetricPolicy] = {}
    prepared: list[Prepared | PodValues] = []
    unavailable = unavailable or {}
    for name, reason in unavailable.items():
        data_kind = measurement.metrics[name].kind if name in measurement.metrics else None
        named = policy.metrics.get(name)
        kind = Kind(data_kind) if data_kind else (DATA_KIND[named.kind] if named else Kind.RATIO)
        policies[name] = policy.for_metric(name, kind)
        prepared.append(_missing(name, policies[name], reason))
    for name, data in measurement.metrics.items():
        if name in unavailable:
            continue
        metric_policy = policy.for_metric(name, Kind(data.kind))
        policies[name] = metric_policy
        ready = _prepare(name, data, metric_policy, policy.warmup_steps, descriptive)
        if pass_from_step:
            first = ready.first_step if isinstance(ready, Prepared) else 0  # PodValues count from the window's start
            ready = replace(ready, pass_from=max(0, pass_from_step - first))
        prepared.append(ready)
    for name, metric_policy in policy.metrics.items():
        if name not in measurement.metrics and name not in unavailable:
            policies[name] = metric_policy
            prepared.append(_missing(name, metric_policy))
    present = {name: policies[name] for name in measurement.metrics if name not in unavailable}
    split = budgets(policy, present)
    fallback = Budget(alpha_fail=policy.alpha_fail, alpha_slo=policy.alpha_fail, alpha_pass=policy.alpha_pass)
    results = [_decide(p, policy, measurement.step_seconds, split.get(p.name, fallback)) for p in prepared]
    verdict, score, reasons = combine(results)
    steps = max((d.steps for d in measurement.metrics.values()), default=0)
    return Judgment(
        verdict=verdict,
        score=score,
        judge="ours",
        steps=steps,
        metrics=results,
        reasons=reasons,
        input_digest=input_digest or measurement_digest(measurement),
    )
