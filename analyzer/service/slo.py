"""Absolute SLOs per stage, read from Prometheus: what the pods serving in each stage do right now.

For a stage with a Rollout target, the pod-template hashes come from the newest judgment recorded
for that Rollout (stable = what serves the stage). Over the last ``window`` seconds the stage's query
profile gives the stable arm's error rate (events / requests) and p95 (``histogram_quantile`` on
the pooled buckets), compared with the runbook defaults: error rate < 5 % (warning 3 %), p95 <
250 ms (warning 200 ms). A metric whose data the source cannot vouch for (missing on an arm, partial,
stale) gives no reading: the status is unknown, with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyzer.errors import SourceUnavailableError
from analyzer.model import HistogramMetric, RatioMetric
from analyzer.promotion.stages import Pipeline, Stage
from analyzer.service.analysis import Analyzer
from analyzer.sources.prometheus import Window, align_down
from analyzer.sources.queries import Target
from analyzer.stats.histogram import histogram_quantile
from analyzer.store.judgments import JudgmentFilter, list_judgments

LIMITS = {"error_rate": (0.05, 0.03), "p95_seconds": (0.25, 0.20)}
WINDOW_SECONDS = 600


def _grade(values: dict[str, float | None]) -> str:
    status = "ok"
    for key, value in values.items():
        limit, warning = LIMITS[key]
        if value is None:
            return "unknown"
        if value > limit:
            return "breach"
        if value > warning:
            status = "warning"
    return status


def stage_slo(stage: Stage, analyzer: Analyzer) -> dict[str, Any]:
    """One stage's SLO reading (``status``: ok, warning, breach, unknown or error)."""
    entry: dict[str, Any] = {"stage": stage.name, "limits": LIMITS}
    if stage.rollout is None:
        return {**entry, "status": "unknown", "reason": "no Rollout target configured for the stage"}
    ns, name = stage.rollout.namespace, stage.rollout.name
    with analyzer.database.session() as s:
        latest = list_judgments(s, JudgmentFilter(namespace=ns, rollout=name, limit=1))
    if not latest:
        return {**entry, "status": "unknown",
                "reason": f"no judgment recorded for {ns}/{name} yet: its pod-template hashes are unknown"}
    key = latest[0].key
    profile = analyzer.profile(key.profile)
    now = analyzer.clock()
    step = profile.step_seconds
    window = Window(start=align_down(now - WINDOW_SECONDS, step), end=align_down(now, step), step=step)
    target = Target(namespace=ns, rollout=name, canary=key.canary_hash, stable=key.stable_hash)
    try:
        fetched = analyzer.source.fetch(profile, target, window)
    except SourceUnavailableError as error:
        return {**entry, "status": "error", "reason": str(error)}
    values: dict[str, float | None] = {"error_rate": None, "p95_seconds": None}
    for name, data in fetched.measurement.metrics.items():
        if name in fetched.unavailable:  # missing on an arm, partial or stale: no reading, not a zero
            continue
        if isinstance(data, RatioMetric) and sum(data.stable.total) > 0:
            values["error_rate"] = sum(data.stable.events) / sum(data.stable.total)
        if isinstance(data, HistogramMetric):
            pooled = np.asarray(data.stable, dtype=float).sum(axis=0)
            if pooled[-1] > 0:
                values["p95_seconds"] = histogram_quantile(0.95, data.le, list(pooled))
    reading = {**entry, "status": _grade(values), "rollout": f"{ns}/{name}", "pod_template_hash": key.stable_hash,
               "window_seconds": WINDOW_SECONDS, **values}
    if fetched.unavailable:
        reading["reason"] = "; ".join(f"{metric}: {why}" for metric, why in fetched.unavailable.items())
    return reading


def stage_slos(pipeline: Pipeline, analyzer: Analyzer) -> list[dict[str, Any]]:
    return [stage_slo(stage, analyzer) for stage in pipeline.stages]
