"""Kayenta's weighted group scorer and score thresholds.

Group score = 100·#Pass / (#Pass + #High + #Low + #NodataFailMetric); Nodata and Error are left
out and a group with nothing counted scores 0 but counts as 100 in the summary. Summary =
Σ group score · weight/100, where groups without a weight share (100 - Σ weights) equally,
rounded to 2 decimals. Any critical non-Pass metric, or ≥ 50 % Nodata metrics, sets the summary
to 0. Muted metrics are removed first. Thresholds: score ≥ pass → Pass, ≥ marginal → Marginal,
otherwise Fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analyzer.stats.kayenta.classifier import Label

NODATA_THRESHOLD = 50.0


@dataclass(frozen=True)
class ScoredMetric:
    name: str
    label: Label
    groups: Sequence[str]
    critical: bool = False
    muted: bool = False


@dataclass(frozen=True)
class ScoreResult:
    summary: float
    group_scores: dict[str, float]
    reason: str | None


def score(metrics: Sequence[ScoredMetric], group_weights: Mapping[str, float]) -> ScoreResult:
    """The 0-100 summary score of a set of classified metrics."""
    counted = [m for m in metrics if not m.muted]
    groups: dict[str, list[ScoredMetric]] = {}
    for metric in counted:
        for group in metric.groups:
            groups.setdefault(group, []).append(metric)
    group_scores: dict[str, float] = {}
    no_data: set[str] = set()
    for group, members in groups.items():
        passed = sum(m.label is Label.PASS for m in members)
        scored = sum(m.label in (Label.PASS, Label.HIGH, Label.LOW, Label.NODATA_FAIL) for m in members)
        if scored == 0:
            group_scores[group] = 0.0
            no_data.add(group)
        else:
            group_scores[group] = 100.0 * passed / scored
    weighted = {g: w for g, w in group_weights.items() if g in groups}
    unweighted = [g for g in groups if g not in weighted]
    share = (100.0 - sum(weighted.values())) / len(unweighted) if unweighted else 0.0
    summary = sum((100.0 if g in no_data else group_scores[g]) * weighted.get(g, share) / 100.0 for g in groups)
    critical = [m.name for m in counted if m.critical and m.label is not Label.PASS]
    if critical:
        return ScoreResult(0.0, group_scores, f"Canary Failed: critical metric(s) {', '.join(critical)}")
    nodata = sum(m.label is Label.NODATA for m in counted)
    if counted and 100.0 * nodata / len(counted) >= NODATA_THRESHOLD:
        return ScoreResult(0.0, group_scores, f"{nodata} of {len(counted)} metrics have no data")
    return ScoreResult(round(summary, 2), group_scores, None)


def classify_score(summary: float, pass_threshold: float, marginal_threshold: float) -> str:
    """``Pass`` / ``Marginal`` / ``Fail`` for a summary score."""
    if summary >= pass_threshold:
        return "Pass"
    if summary >= marginal_threshold:
        return "Marginal"
    return "Fail"
