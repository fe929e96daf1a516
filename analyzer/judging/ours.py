"""Our judge: Policy + Measurement → Judgment. Pure: no I/O, no clock.

Pipeline, one small stage per module: prepare each metric as per-step counts (:mod:`.ratio`,
:mod:`.latency`), decide each metric (:mod:`.metric`), combine (:mod:`.combine`).

The false-fail rate α_fail is shared by e-Bonferroni over every planned fail test of the judged
(non-dry-run) metrics — one ratio test per metric plus one per absolute limit — so each test
fails at e ≥ m/α_fail (Vovk & Wang 2021, "E-values: calibration, combination and applications",
Ann. Statist. 49(3)). A policy metric absent from the measurement is inconclusive: missing data
is never a pass.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.judging.combine import combine
from analyzer.judging.digest import measurement_digest
from analyzer.judging.evidence import StepCounts
from analyzer.judging.latency import prepare_histogram
from analyzer.judging.metric import Prepared, decide
from analyzer.judging.ratio import prepare_ratio
from analyzer.model import (
    Estimate,
    HistogramMetric,
    Judgment,
    Kind,
    Measurement,
    MetricPolicy,
    Policy,
    RatioMetric,
)


def _planned_tests(policies: dict[str, MetricPolicy]) -> int:
    judged = [p for p in policies.values() if not p.dry_run]
    return max(1, sum(1 + (p.slo is not None) for p in judged))


def _missing(name: str, policy: MetricPolicy) -> Prepared:
    empty = np.zeros(0)
    return Prepared(
        name=name,
        policy=policy,
        counts=StepCounts(empty, empty, empty, empty),
        first_step=0,
        estimate=Estimate(ratio=None, canary=None, stable=None),
        untestable="no data: the measurement has no such metric",
    )


def _prepare(name: str, data: RatioMetric | HistogramMetric, policy: MetricPolicy, warmup: int) -> Prepared:
    if isinstance(data, RatioMetric):
        return prepare_ratio(name, data, policy, warmup)
    return prepare_histogram(name, data, policy, warmup)


def judge(measurement: Measurement, policy: Policy) -> Judgment:
    """Judge the canary on every metric of the measurement (and every metric the policy names).

    Raises :class:`~analyzer.errors.InputError` when the policy gives a metric another kind.
    """
    policies: dict[str, MetricPolicy] = {}
    prepared: list[Prepared] = []
    for name, data in measurement.metrics.items():
        metric_policy = policy.for_metric(name, Kind(data.kind))
        policies[name] = metric_policy
        prepared.append(_prepare(name, data, metric_policy, policy.warmup_steps))
    for name, metric_policy in policy.metrics.items():
        if name not in measurement.metrics:
            policies[name] = metric_policy
            prepared.append(_missing(name, metric_policy))
    log_threshold = math.log(_planned_tests(policies) / policy.alpha_fail)
    results = [decide(p, policy, measurement.step_seconds, log_threshold) for p in prepared]
    verdict, score, reasons = combine(results)
    steps = max((d.steps for d in measurement.metrics.values()), default=0)
    return Judgment(
        verdict=verdict,
        score=score,
        judge="ours",
        steps=steps,
        metrics=results,
        reasons=reasons,
        input_digest=measurement_digest(measurement),
    )
