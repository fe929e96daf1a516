"""Kayenta NetflixACAJudge parity: Mann-Whitney classifier, weighted scorer, outlier detectors."""

from analyzer.stats.kayenta.classifier import (
    Classification,
    ClassifierConfig,
    Direction,
    Label,
    classify_mann_whitney,
    classify_mean_inequality,
)
from analyzer.stats.kayenta.detectors import iqr_outliers, ksigma_outliers
from analyzer.stats.kayenta.mannwhitney import ShiftInterval, shift_interval, wilcoxon_diff
from analyzer.stats.kayenta.scorer import ScoredMetric, ScoreResult, classify_score, score

__all__ = [
    "Classification",
    "ClassifierConfig",
    "Direction",
    "Label",
    "ScoreResult",
    "ScoredMetric",
    "ShiftInterval",
    "classify_mann_whitney",
    "classify_mean_inequality",
    "classify_score",
    "iqr_outliers",
    "ksigma_outliers",
    "score",
    "shift_interval",
    "wilcoxon_diff",
]
