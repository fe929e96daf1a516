"""Diagnostics that never decide: off the live look, filled in for the report page and the offline judge."""

from __future__ import annotations

from analyzer.judging import judge, judge_kayenta
from analyzer.judging.descriptive import with_descriptive
from analyzer.model import Kind, Policy
from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate

POLICY = Policy()
MEASUREMENT = simulate(Scenario(rps=200.0, canary_share=0.2, steps=20, buckets=FINE_BUCKETS), 4)


def _latency(judgment):
    return next(r for r in judgment.metrics if r.kind is Kind.HISTOGRAM)


def test_the_live_look_computes_no_descriptive_diagnostics():
    d = _latency(judge(MEASUREMENT, POLICY)).diagnostics
    assert d.chi2_p_value is None and d.quantile_ratio_interval is None


def test_asked_for_they_are_there_and_nothing_else_changes():
    live, offline = judge(MEASUREMENT, POLICY), judge(MEASUREMENT, POLICY, descriptive=True)
    d = _latency(offline).diagnostics
    assert 0.0 <= d.chi2_p_value <= 1.0
    low, high = d.quantile_ratio_interval
    assert 0.0 < low <= high
    strip = {"chi2_p_value": None, "quantile_ratio_interval": None}
    assert [r.model_copy(update={"diagnostics": r.diagnostics.model_copy(update=strip)}) for r in offline.metrics] == (
        live.metrics
    )


def test_a_recorded_judgment_gets_them_for_its_page_without_other_changes():
    live = judge(MEASUREMENT, POLICY)
    filled = with_descriptive(live, MEASUREMENT, POLICY)
    assert filled == judge(MEASUREMENT, POLICY, descriptive=True)
    assert filled.verdict == live.verdict and filled.reasons == live.reasons


def test_unavailable_metrics_and_other_judges_are_left_alone():
    name = _latency(judge(MEASUREMENT, POLICY)).name
    unavailable = {name: "partial response"}
    live = judge(MEASUREMENT, POLICY, unavailable=unavailable)
    assert with_descriptive(live, MEASUREMENT, POLICY, unavailable) == live
    kayenta = judge_kayenta(MEASUREMENT, POLICY)
    assert with_descriptive(kayenta, MEASUREMENT, POLICY) is kayenta
