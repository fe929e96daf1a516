"""The Kayenta-style judge: NetflixACAJudge semantics on our measurement format.

Each metric becomes one value per step, as Kayenta sees a Prometheus series: the error rate in
percent (events/total·100) for ratio metrics, the interpolated quantile for histograms; steps
without requests are NaN and removed. PromQL's artefacts are repaired first, as PromQL would:
events are clipped to total, and ``histogram_quantile``'s running maximum along ``le`` mends
buckets that dip. The per-pod breakdown is not used: Kayenta compares one series per arm.

Each metric is classified by the Mann-Whitney classifier at Kayenta's production settings
(confidence 0.98, tolerance 0.25, direction ``increase``), after the metric's warm-up steps. As
in ``NetflixACAJudge.classifyMetric``, a classifier that raises (one point per arm leaves no shift to
search; ranks that all tie leave no interval) labels the metric ``Error``, never critical. Each
metric is its own scoring group, weighted by its policy weight among the judged metrics; dry-run
metrics are muted. The summary score is read against pass 95 / marginal 75: Pass → pass,
Marginal → inconclusive, else fail.

One departure from Kayenta, the contract of every judge here: missing data neither passes nor
fails a canary. Kayenta scores a critical metric without data 0 (a fail) and leaves ``Error``
metrics out of the score (so a canary whose every metric errored passes). Here, while a judged
metric is ``Nodata`` or ``Error`` the verdict is inconclusive, unless the canary fails even when
those metrics are counted as passing. The score reported is Kayenta's own.

This judge exists for teams migrating from Kayenta and for side-by-side benchmarks. It has no
guarantee across repeated looks, and short series are its weak spot, as they are Kayenta's (which
asks for 50 points): with two or three points per arm the normal approximation cannot reach the
interval's quantile, the interval is clamped to the whole search range, and a canary whose every
point lies above stable's is High (one chance in six with two A/A points per arm).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from analyzer.judging.digest import measurement_digest
from analyzer.judging.pod_values import gauge_samples, step_means
from analyzer.model import (
    Estimate,
    GaugeMetric,
    Interval,
    Judgment,
    Kind,
    Measurement,
    MetricData,
    MetricPolicy,
    MetricResult,
    Policy,
    RatioMetric,
    Samples,
    Verdict,
)
from analyzer.stats.histogram import histogram_quantiles
from analyzer.stats.kayenta import (
    Classification,
    ClassifierConfig,
    Direction,
    Label,
    ScoredMetric,
    ScoreResult,
    classify_mann_whitney,
    classify_score,
    score,
)

PASS_THRESHOLD = 95.0
MARGINAL_THRESHOLD = 75.0

_METRIC_VERDICT = {Label.PASS: Verdict.PASS, Label.HIGH: Verdict.FAIL, Label.LOW: Verdict.FAIL}
_SCORE_VERDICT = {"Pass": Verdict.PASS, "Marginal": Verdict.INCONCLUSIVE, "Fail": Verdict.FAIL}
#: Labels that say the metric could not be classified: missing data, or a classifier failure.
_UNCLASSIFIED = (Label.NODATA, Label.ERROR)


def per_step_series(data: MetricData, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """(canary, stable) values per step: error percent, interpolated quantile, or a gauge's mean over pods."""
    if isinstance(data, GaugeMetric):  # NaN where no pod had a value
        return step_means(data)
    if isinstance(data, RatioMetric):
        out = []
        for arm in (data.canary, data.stable):
            total = np.asarray(arm.total, dtype=np.float64)
            events = np.minimum(np.asarray(arm.events, dtype=np.float64), total)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(total > 0, 100.0 * events / total, np.nan))
        return out[0], out[1]
    canary, stable = (
        np.asarray(rows, dtype=np.float64).reshape(data.steps, len(data.le)) for rows in (data.canary, data.stable)
    )
    return histogram_quantiles(quantile, data.le, canary), histogram_quantiles(quantile, data.le, stable)


def _samples(data: MetricData, start: int, steps: int) -> Samples:
    """Requests (and, for ratios, events clipped to requests) per arm from ``start`` on."""
    if isinstance(data, GaugeMetric):
        return gauge_samples(data, start)
    if isinstance(data, RatioMetric):
        c_total, s_total = (np.asarray(arm.total[start:], dtype=np.float64) for arm in (data.canary, data.stable))
        c_events = np.minimum(np.asarray(data.canary.events[start:], dtype=np.float64), c_total)
        s_events = np.minimum(np.asarray(data.stable.events[start:], dtype=np.float64), s_total)
        counts = (c_total.sum(), s_total.sum(), c_events.sum(), s_events.sum())
    else:  # requests = the +Inf bucket after PromQL's running maximum along le, i.e. the row's largest count
        c_rows, s_rows = (
            np.asarray(rows[start:], dtype=np.float64).reshape(-1, len(data.le)) for rows in (data.canary, data.stable)
        )
        counts = (c_rows.max(axis=1, initial=0.0).sum(), s_rows.max(axis=1, initial=0.0).sum(), 0.0, 0.0)
    c_req, s_req, c_ev, s_ev = (float(v) for v in counts)
    return Samples(canary_requests=c_req, stable_requests=s_req, canary_events=c_ev, stable_events=s_ev, steps=steps)


def _mean(values: np.ndarray) -> float | None:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else None


def _classify(stable: np.ndarray, canary: np.ndarray, config: ClassifierConfig) -> Classification:
    """Kayenta's label, or ``Error`` (never critical) when the classifier raises, as NetflixACAJudge does."""
    try:
        return classify_mann_whitney(stable, canary, config)
    except (ArithmeticError, RuntimeError, ValueError) as error:
        return Classification(Label.ERROR, False, float("nan"), f"metric classification failed: {error}")


def _judge_metric(
    name: str, data: MetricData, policy: MetricPolicy, warmup: int
) -> tuple[MetricResult, ScoredMetric]:
    start = min(warmup, data.steps)
    canary, stable = (series[start:] for series in per_step_series(data, policy.quantile))
    outcome = _classify(stable, canary, ClassifierConfig(direction=Direction.INCREASE, critical=policy.critical))
    n_canary, n_stable = int(np.sum(~np.isnan(canary))), int(np.sum(~np.isnan(stable)))
    reason = outcome.reason
    if outcome.label is Label.NODATA:
        reason += (
            f": {n_canary} canary and {n_stable} stable steps with requests"
            f" after a warm-up of {warmup} step{'s' if warmup != 1 else ''}"
        )
    mean_c, mean_s = _mean(canary), _mean(stable)
    result = MetricResult(
        name=name,
        kind=policy.kind,
        verdict=_METRIC_VERDICT.get(outcome.label, Verdict.INCONCLUSIVE),
        reason=f"{outcome.label.value}: {reason}",
        critical=policy.critical,
        dry_run=policy.dry_run,
        weight=policy.weight,
        estimate=Estimate(
            ratio=mean_c / mean_s if mean_c is not None and mean_s else None, canary=mean_c, stable=mean_s
        ),
        interval=Interval(lower=None, upper=None),
        label=outcome.label.value,
        samples=_samples(data, start, n_canary),
    )
    return result, ScoredMetric(name, outcome.label, [name], outcome.critical, policy.dry_run)


def _missing(name: str, policy: MetricPolicy) -> tuple[MetricResult, ScoredMetric]:
    """A metric the policy names but the measurement lacks: Kayenta's ``Nodata`` (critical if the metric is)."""
    result = MetricResult(
        name=name,
        kind=policy.kind,
        verdict=Verdict.INCONCLUSIVE,
        reason=f"{Label.NODATA.value}: missing data: the measurement has no such metric",
        critical=policy.critical,
        dry_run=policy.dry_run,
        weight=policy.weight,
        estimate=Estimate(ratio=None, canary=None, stable=None),
        interval=Interval(lower=None, upper=None),
        label=Label.NODATA.value,
        samples=Samples(canary_requests=0.0, stable_requests=0.0, canary_events=0.0, stable_events=0.0, steps=0),
    )
    return result, ScoredMetric(name, Label.NODATA, [name], policy.critical, policy.dry_run)


def _verdict(scored: list[ScoredMetric], weights: dict[str, float], summary: ScoreResult) -> tuple[Verdict, str | None]:
    """The verdict, and why when it is not Kayenta's score class: data was missing, or nothing is judged."""
    judged = [m for m in scored if not m.muted]
    unclassified = [m for m in judged if m.label in _UNCLASSIFIED]
    if not judged:
        return Verdict.INCONCLUSIVE, "no metric is judged (all are dry-run)"
    if not unclassified:
        return _SCORE_VERDICT[classify_score(summary.summary, PASS_THRESHOLD, MARGINAL_THRESHOLD)], None
    names = ", ".join(f"{m.name} ({m.label.value})" for m in unclassified)
    hopeful = [dataclasses.replace(m, label=Label.PASS, critical=False) if m in unclassified else m for m in scored]
    best = score(hopeful, weights).summary
    if classify_score(best, PASS_THRESHOLD, MARGINAL_THRESHOLD) == "Fail":
        return Verdict.FAIL, f"Kayenta score {best:g} → Fail even if {names} passed"
    return Verdict.INCONCLUSIVE, f"missing data, or too few points to classify: {names}"


def judge_kayenta(measurement: Measurement, policy: Policy) -> Judgment:
    """Judge the canary on every metric of the measurement (and every metric the policy names).

    Never raises on a valid measurement; raises :class:`~analyzer.errors.InputError` when the
    policy gives a metric another kind than the data has.
    """
    judged: list[tuple[MetricResult, ScoredMetric]] = []
    for name, data in measurement.metrics.items():
        metric_policy = policy.for_metric(name, Kind(data.kind))
        warmup = policy.warmup_steps  # Kayenta has one warm-up for every metric (parity, and its benchmark figures)
        judged.append(_judge_metric(name, data, metric_policy, warmup))
    judged += [_missing(name, p) for name, p in policy.metrics.items() if name not in measurement.metrics]
    results, scored = [r for r, _ in judged], [m for _, m in judged]
    # Group weights share 100 among the judged metrics: a muted (dry-run) group's weight would cap the score.
    judged_weights = {r.name: r.weight for r in results if not r.dry_run}
    weights = {name: 100.0 * w / sum(judged_weights.values()) for name, w in judged_weights.items()}
    summary = score(scored, weights)
    verdict, override = _verdict(scored, weights, summary)
    label = classify_score(summary.summary, PASS_THRESHOLD, MARGINAL_THRESHOLD)
    reasons = [] if override is None else [override]
    reasons.append(
        f"Kayenta score {summary.summary:g} → {label} (pass {PASS_THRESHOLD:g}, marginal {MARGINAL_THRESHOLD:g})"
    )
    if summary.reason:
        reasons.append(summary.reason)
    reasons += [f"{r.name}: {r.reason}" + (" (dry run)" if r.dry_run else "") for r in results]
    return Judgment(
        verdict=verdict,
        score=summary.summary,
        judge="kayenta",
        steps=max((d.steps for d in measurement.metrics.values()), default=0),
        metrics=results,
        reasons=reasons,
        input_digest=measurement_digest(measurement),
    )
