"""Kayenta's per-metric classifiers: Mann-Whitney (the NetflixACAJudge default) and mean inequality.

Mann-Whitney classification, in order (Kayenta ``MannWhitneyClassifier``):

1. either series empty: ``Nodata`` (or ``NodataFailMetric`` for a required, non-critical metric)
   when NaNs are removed; ``Pass`` when NaNs are replaced by zeros;
2. identical sorted series, or one distinct value overall: ``Pass`` (deviation 1);
3. both series constant: relative Gaussian noise (sd = value·1e-5) is added so ranks are not all tied;
4. the Mann-Whitney interval [lo, hi] and Hodges-Lehmann estimate θ̂ of canary - baseline (which
   raises, as Kayenta's does, when every rank ties or one point per arm leaves nothing to search);
5. ``High`` when the direction allows an increase, lo > tolerance·|θ̂| and the effect size (mean
   ratio, NaN if a mean is 0, or CLES) reaches the allowed increase; ``Low`` symmetrically;
   otherwise ``Pass``; a High/Low of a critical metric is critical when its effect reaches the
   critical threshold (or is NaN).

Production values are hard-coded in Kayenta: tolerance 0.25, confidence 0.98.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from analyzer.stats.kayenta.detectors import iqr_outliers
from analyzer.stats.kayenta.mannwhitney import shift_interval


class Label(StrEnum):
    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"
    NODATA_FAIL = "NodataFailMetric"
    ERROR = "Error"


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


@dataclass(frozen=True)
class ClassifierConfig:
    tolerance: float = 0.25
    confidence_level: float = 0.98
    direction: Direction = Direction.EITHER
    effect_measure: str = "meanRatio"  # or "cles"
    allowed_decrease: float = 1.0
    allowed_increase: float = 1.0
    critical_decrease: float = 1.0
    critical_increase: float = 1.0
    critical: bool = False
    must_have_data: bool = False
    replace_nans: bool = False
    remove_outliers: bool = False
    outlier_factor: float = 3.0


@dataclass(frozen=True)
class Classification:
    label: Label
    critical: bool
    deviation: float  # the effect size (NaN when undefined)
    reason: str


def mean_ratio(experiment: np.ndarray, control: np.ndarray) -> float:
    """mean(experiment) / mean(control); NaN when either mean is 0."""
    m_e, m_c = float(experiment.mean()), float(control.mean())
    return float("nan") if m_e == 0 or m_c == 0 else m_e / m_c


def cles(experiment: np.ndarray, control: np.ndarray) -> float:
    """Common-language effect size A = P(X > Y) + ½P(X = Y) (Vargha & Delaney 2000)."""
    m, n = experiment.size, control.size
    ranks = stats.rankdata(np.concatenate([experiment, control]))
    return float((2.0 * ranks[:m].sum() - m * (m + 1)) / (2.0 * n * m))


def _prepare(values: ArrayLike, config: ClassifierConfig) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64)
    data = np.where(np.isnan(data), 0.0, data) if config.replace_nans else data[~np.isnan(data)]
    if config.remove_outliers and data.size:
        data = data[~iqr_outliers(data, config.outlier_factor, reduce_sensitivity=True)]
    return data


def classify_mann_whitney(
    control: ArrayLike, experiment: ArrayLike, config: ClassifierConfig, seed: int = 0
) -> Classification:
    """Label the canary (``experiment``) against the baseline (``control``), as Kayenta does."""
    ctrl, expt = _prepare(control, config), _prepare(experiment, config)
    if ctrl.size == 0 or expt.size == 0:
        if config.replace_nans:
            return Classification(Label.PASS, False, float("nan"), "no data (NaNs replaced): pass")
        if config.must_have_data and not config.critical:
            return Classification(Label.NODATA_FAIL, False, float("nan"), "missing data for a required metric")
        return Classification(Label.NODATA, config.critical, float("nan"), "missing data")
    if np.array_equal(np.sort(ctrl), np.sort(expt)) or np.unique(np.concatenate([ctrl, expt])).size == 1:
        return Classification(Label.PASS, False, 1.0, "identical series")
    if np.unique(ctrl).size == 1 and np.unique(expt).size == 1:
        rng = np.random.default_rng(seed)
        ctrl = ctrl + rng.normal(0.0, 1.0, ctrl.size) * np.abs(ctrl) * 1e-5
        expt = expt + rng.normal(0.0, 1.0, expt.size) * np.abs(expt) * 1e-5
    interval = shift_interval(expt, ctrl, config.confidence_level)
    bound = config.tolerance * abs(interval.estimate)
    effect = cles(expt, ctrl) if config.effect_measure == "cles" else mean_ratio(expt, ctrl)
    nan = bool(np.isnan(effect))
    increase_ok = config.direction in (Direction.INCREASE, Direction.EITHER)
    decrease_ok = config.direction in (Direction.DECREASE, Direction.EITHER)
    shift = f"shift {interval.estimate:.4g} in [{interval.low:.4g}, {interval.high:.4g}]"
    if increase_ok and interval.low > bound and (nan or effect >= config.allowed_increase):
        critical = config.critical and (nan or effect >= config.critical_increase)
        return Classification(Label.HIGH, critical, effect, f"canary higher: {shift}")
    if decrease_ok and interval.high < -bound and (nan or effect <= config.allowed_decrease):
        critical = config.critical and (nan or effect <= config.critical_decrease)
        return Classification(Label.LOW, critical, effect, f"canary lower: {shift}")
    return Classification(Label.PASS, False, effect, f"no significant shift: {shift}")


def classify_mean_inequality(control: ArrayLike, experiment: ArrayLike) -> Classification:
    """High / Low / Pass by comparing the means only (Kayenta ``MeanInequalityClassifier``)."""
    m_c = float(np.mean(np.asarray(control, dtype=np.float64)))
    m_e = float(np.mean(np.asarray(experiment, dtype=np.float64)))
    if m_e > m_c:
        return Classification(Label.HIGH, False, float("nan"), "canary mean higher")
    if m_e < m_c:
        return Classification(Label.LOW, False, float("nan"), "canary mean lower")
    return Classification(Label.PASS, False, float("nan"), "equal means")
