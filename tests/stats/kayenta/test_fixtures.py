"""Kayenta's own test cases (tests/fixtures/kayenta, Apache-2.0, see its README) reproduced."""

import json
from pathlib import Path

import numpy as np
import pytest

from analyzer.stats.kayenta import (
    ClassifierConfig,
    Direction,
    Label,
    ScoredMetric,
    classify_mann_whitney,
    classify_mean_inequality,
    classify_score,
    iqr_outliers,
    ksigma_outliers,
    score,
    shift_interval,
    wilcoxon_diff,
)

KAYENTA = Path(__file__).parents[2] / "fixtures" / "kayenta"


def _cases(name):
    cases = json.loads((KAYENTA / name).read_text())["cases"]
    return pytest.mark.parametrize("case", cases, ids=[c["name"] for c in cases])


def _config(case):
    p = case["params"]
    return ClassifierConfig(
        tolerance=p["tolerance"],
        confidence_level=p["confLevel"],
        direction=Direction(case["direction"].lower()),
        effect_measure=p["effectSizeMeasure"],
        allowed_decrease=p["effectSizeThresholds"][0],
        allowed_increase=p["effectSizeThresholds"][1],
        critical_decrease=p["criticalThresholds"][0],
        critical_increase=p["criticalThresholds"][1],
        critical=case["isCriticalMetric"],
        must_have_data=case["isDataRequired"],
        replace_nans=case["nanStrategy"] == "Replace",
    )


@_cases("classifier_cases.json")
def test_classifier(case):
    if case["classifier"] == "MeanInequalityClassifier":
        result = classify_mean_inequality(case["control"], case["experiment"])
    else:
        result = classify_mann_whitney(case["control"], case["experiment"], _config(case))
    expected = case["expected"]
    if "classification" in expected:
        assert result.label.value == expected["classification"]
    if "critical" in expected:
        assert result.critical == expected["critical"]
    if expected.get("deviation_is_nan"):
        assert np.isnan(result.deviation)
    if "deviation" in expected:
        assert result.deviation == expected["deviation"]
    if expected.get("reason_non_empty"):
        assert result.reason


@_cases("mannwhitney_cases.json")
def test_mann_whitney(case):
    if "expected_wilcoxonDiff" in case:
        for point in case["expected_wilcoxonDiff"]:
            value = wilcoxon_diff(case["x_experiment"], case["y_control"], point["mu"], point["quantile"])
            assert value == pytest.approx(point["value"], abs=1e-6)
        return
    x = case.get("experiment", case.get("x_experiment"))
    y = case.get("control", case.get("y_control"))
    result = shift_interval(x, y, case["confidenceLevel"])
    expected = case["expected"]
    # Brent's absolute tolerance is 1e-4 in Kayenta (and R's uniroot): values agree to that.
    assert result.low == pytest.approx(expected["ci_low"], abs=1e-4)
    assert result.high == pytest.approx(expected["ci_high"], abs=1e-4)
    assert result.estimate == pytest.approx(expected["estimate"], abs=1e-4)
    if "muMin" in expected:
        assert min(x) - max(y) == pytest.approx(expected["muMin"])
        assert max(x) - min(y) == pytest.approx(expected["muMax"])


@_cases("scorer_cases.json")
def test_scorer(case):
    metrics = [ScoredMetric(m["name"], Label(m["classification"]), m["groups"], m["critical"]) for m in case["metrics"]]
    result = score(metrics, case["groupWeights"])
    assert result.summary == pytest.approx(case["expected"]["summaryScore"], abs=0.005)
    if "groupScoresSorted" in case["expected"]:
        assert sorted(result.group_scores.values()) == case["expected"]["groupScoresSorted"]


@_cases("detector_cases.json")
def test_detectors(case):
    if case["detector"] == "KSigma":
        flags = ksigma_outliers(case["data"], case["k"])
    else:
        flags = iqr_outliers(case["data"], case["factor"], case["reduceSensitivity"])
    expected = case["expected"]
    if isinstance(expected, str):  # "all false except the last value"
        expected = [False] * (len(case["data"]) - 1) + [True]
    assert list(flags) == expected


@_cases("integration_cases.json")
def test_integration_scenarios(case):
    """Uniform gauges as in Kayenta's integration tests: critical metrics, increase, pass 75 / marginal 50."""
    rng = np.random.default_rng(2024)
    scored = []
    for metric_id, control in case["control"].items():
        experiment = case["experiment"][metric_id]
        ctrl = rng.uniform(*control["uniform"], size=60)
        expt = rng.uniform(*experiment["uniform"], size=60)
        muted = "failing" in metric_id and "muted" in case["name"]
        config = ClassifierConfig(direction=Direction.INCREASE, critical=True)
        result = classify_mann_whitney(ctrl, expt, config)
        scored.append(ScoredMetric(metric_id, result.label, ["pod-group"], result.critical, muted))
    labels = sorted(m.label.value for m in scored)
    assert labels == sorted(case["expected"]["metric_classification"].values())
    summary = score(scored, {"pod-group": 100.0})
    if "final_score" in case["expected"]:
        assert summary.summary == case["expected"]["final_score"]
    passed = classify_score(summary.summary, 75.0, 50.0) == "Pass"
    assert passed == case["expected"]["didPassThresholds"]
