"""The Kayenta-style judge: NetflixACAJudge semantics on our measurement format.

Each metric becomes one value per step, as Kayenta sees a Prometheus series: the error rate in
percent (events/total·100) for ratio metrics, the interpolated quantile for histograms; steps
without requests are NaN and removed. Each metric is classified by the Mann-Whitney classifier
at Kayenta's production settings (confidence 0.98, tolerance 0.25, direction ``increase``), is
its own scoring group weighted by the policy weight, dry-run metrics are muted, and the summary
score is read against pass 95 / marginal 75: Pass → pass, Marginal → inconclusive, else fail.

This judge exists for teams migrating from Kayenta and for side-by-side benchmarks. It has no
guarantee across repeated looks.
"""

from __future__ import annotations

import numpy as np

from analyzer.judging.digest import measurement_digest
from analyzer.model import (
    Estimate,
    HistogramMetric,
    Interval,
    Judgment,
    Kind,
    Measurement,
    MetricResult,
    Policy,
    RatioMetric,
    Samples,
    Verdict,
)
from analyzer.stats.histogram import histogram_quantiles
from analyzer.stats.kayenta import (
    ClassifierConfig,
    Direction,
    Label,
    ScoredMetric,
    classify_mann_whitney,
    classify_score,
    score,
)

PASS_THRESHOLD = 95.0
MARGINAL_THRESHOLD = 75.0

_METRIC_VERDICT = {
    Label.PASS: Verdict.PASS,
    Label.HIGH: Verdict.FAIL,
    Label.LOW: Verdict.FAIL,
    Label.NODATA_FAIL: Verdict.FAIL,
}
_SCORE_VERDICT = {"Pass": Verdict.PASS, "Marginal": Verdict.INCONCLUSIVE, "Fail": Verdict.FAIL}


def per_step_series(data: RatioMetric | HistogramMetric, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """(canary, stable) values per step: error percent or interpolated quantile; NaN without requests."""
    if isinstance(data, RatioMetric):
        out = []
        for arm in (data.canary, data.stable):
            total = np.asarray(arm.total, dtype=np.float64)
            events = np.asarray(arm.events, dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(total > 0, 100.0 * events / total, np.nan))
        return out[0], out[1]
    return (
        histogram_quantiles(quantile, data.le, np.asarray(data.canary, dtype=np.float64).reshape(data.steps, -1)),
        histogram_quantiles(quantile, data.le, np.asarray(data.stable, dtype=np.float64).reshape(data.steps, -1)),
    )


def _requests(data: RatioMetric | HistogramMetric, start: int) -> tuple[float, float]:
    if isinstance(data, RatioMetric):
        return float(sum(data.canary.total[start:])), float(sum(data.stable.total[start:]))
    return float(sum(r[-1] for r in data.canary[start:])), float(sum(r[-1] for r in data.stable[start:]))


def _mean(values: np.ndarray) -> float | None:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else None


def judge_kayenta(measurement: Measurement, policy: Policy) -> Judgment:
    results: list[MetricResult] = []
    scored: list[ScoredMetric] = []
    for name, data in measurement.metrics.items():
        metric_policy = policy.for_metric(name, Kind(data.kind))
        start = min(policy.warmup_steps, data.steps)
        canary, stable = per_step_series(data, metric_policy.quantile)
        canary, stable = canary[start:], stable[start:]
        config = ClassifierConfig(direction=Direction.INCREASE, critical=metric_policy.critical)
        outcome = classify_mann_whitney(stable, canary, config)
        mean_c, mean_s = _mean(canary), _mean(stable)
        n_c, n_s = _requests(data, start)
        results.append(
            MetricResult(
                name=name,
                kind=metric_policy.kind,
                verdict=_METRIC_VERDICT.get(outcome.label, Verdict.INCONCLUSIVE),
                reason=f"{outcome.label.value}: {outcome.reason}",
                critical=metric_policy.critical,
                dry_run=metric_policy.dry_run,
                weight=metric_policy.weight,
                estimate=Estimate(
                    ratio=mean_c / mean_s if mean_c is not None and mean_s else None,
                    canary=mean_c,
                    stable=mean_s,
                ),
                interval=Interval(lower=None, upper=None),
                label=outcome.label.value,
                samples=Samples(
                    canary_requests=n_c,
                    stable_requests=n_s,
                    canary_events=0.0,
                    stable_events=0.0,
                    steps=int(np.sum(~np.isnan(canary))),
                ),
            )
        )
        scored.append(ScoredMetric(name, outcome.label, [name], outcome.critical, metric_policy.dry_run))
    total_weight = sum(r.weight for r in results)
    summary = score(scored, {r.name: 100.0 * r.weight / total_weight for r in results})
    label = classify_score(summary.summary, PASS_THRESHOLD, MARGINAL_THRESHOLD)
    reasons = [
        f"Kayenta score {summary.summary:g} → {label} (pass {PASS_THRESHOLD:g}, marginal {MARGINAL_THRESHOLD:g})"
    ]
    if summary.reason:
        reasons.append(summary.reason)
    reasons += [f"{r.name}: {r.reason}" for r in results]
    return Judgment(
        verdict=_SCORE_VERDICT[label],
        score=summary.summary,
        judge="kayenta",
        steps=max(d.steps for d in measurement.metrics.values()),
        metrics=results,
        reasons=reasons,
        input_digest=measurement_digest(measurement),
    )
