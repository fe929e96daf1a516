"""Seeded simulations with known truth: error rates of the judge across looks."""

from dataclasses import replace

import pytest
from scipy import stats

import analyzer
from analyzer.model import Policy, Verdict
from analyzer.sources.simulate import BIMODAL, FINE_BUCKETS, Latency, Scenario, simulate

TEN_CANARY_RPS = Scenario(rps=100.0, canary_share=0.1)


def _first_fail_look(scenario, seed):
    """The first Argo look (number of steps seen) at which the judge says fail, or None."""
    judgment = analyzer.judge(simulate(scenario, seed))
    steps = [m.fail_step for m in judgment.metrics if m.fail_step is not None and m.critical]
    return None if judgment.verdict is not Verdict.FAIL else min(steps) + 1


@pytest.mark.slow
def test_aa_false_fail_over_30_looks_stays_within_alpha():
    runs = 300
    fails = sum(
        _first_fail_look(Scenario(rps=100.0, canary_share=0.1, steps=30), 1000 + s) is not None for s in range(runs)
    )
    # one-sided binomial tolerance: more than this many fails would reject "rate <= alpha" at 1 %
    allowed = stats.binom.ppf(0.99, runs, Policy().alpha_fail)
    assert fails <= allowed, f"{fails} false fails in {runs} A/A runs"


def test_every_prefix_is_one_look_and_fail_is_sticky():
    """Judging steps 1..k fails exactly when the full run's first fail step is < k."""
    measurement = simulate(Scenario(rps=100.0, canary_share=0.1, error_ratio=3.0, onset_step=4, steps=22), 5)
    full = analyzer.judge(measurement)
    first = min(m.fail_step for m in full.metrics if m.fail_step is not None)
    for k in range(1, 23):
        verdict = analyzer.judge(measurement.head(k)).verdict
        assert (verdict is Verdict.FAIL) == (k > first), k


@pytest.mark.parametrize("seed", range(20))
def test_3x_error_regression_at_10_canary_rps_fails_within_10_looks(seed):
    look = _first_fail_look(Scenario(rps=100.0, canary_share=0.1, error_ratio=3.0, steps=10), 200 + seed)
    assert look is not None and look <= 10


@pytest.mark.parametrize("seed", range(20))
def test_tail_only_latency_regression_fails_within_15_looks_with_fine_buckets(seed):
    scenario = Scenario(
        rps=100.0, canary_share=0.1, latency=BIMODAL, slow_mode_scale=1.5, buckets=FINE_BUCKETS, steps=15
    )
    measurement = simulate(scenario, 300 + seed)
    # p95 0.40 s already breaks the 250 ms SLO in both arms: drop the SLO so the comparison must find it
    no_slo = Policy.model_validate(
        {"metrics": {"error-rate": {"kind": "ratio"}, "latency": {"kind": "histogram", "slo": None}}}
    )
    judgment = analyzer.judge(measurement, no_slo)
    latency = next(m for m in judgment.metrics if m.name == "latency")
    assert judgment.verdict is Verdict.FAIL and latency.verdict is Verdict.FAIL
    assert latency.reason.startswith("regression") and latency.fail_step < 15
    # the median did not move: this is a tail-only regression
    assert abs(latency.estimate.canary - latency.estimate.stable) / latency.estimate.stable > 0.2


@pytest.mark.parametrize("seed", range(30))
def test_one_rps_canary_for_five_minutes_is_never_a_pass(seed):
    judgment = analyzer.judge(simulate(Scenario(rps=10.0, canary_share=0.1, steps=5), 400 + seed))
    assert judgment.verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("seed", range(30))
def test_an_improvement_never_fails(seed):
    better = Scenario(rps=100.0, canary_share=0.1, error_ratio=0.5, latency_scale=0.8, buckets=FINE_BUCKETS)
    assert analyzer.judge(simulate(better, 500 + seed)).verdict is not Verdict.FAIL


def test_healthy_canary_with_enough_traffic_passes():
    judgment = analyzer.judge(simulate(Scenario(rps=100.0, canary_share=0.1, buckets=FINE_BUCKETS), 9))
    assert judgment.verdict is Verdict.PASS and judgment.score == 100.0


def test_default_buckets_test_the_bounds_around_stable_p95():
    # p95 ≈ 0.11 s sits in DefBuckets' (0.1, 0.25] bucket: both neighbours are tested, never "resolution"
    scenario = Scenario(rps=100.0, canary_share=0.1, latency=Latency(median=0.05, sigma=0.48))
    latency = next(m for m in analyzer.judge(simulate(scenario, 1)).metrics if m.name == "latency")
    assert "resolution" not in latency.reason
    assert latency.diagnostics.tested_bounds[0] == 0.25 and 0.1 in latency.diagnostics.tested_bounds
    slower = replace(scenario, latency_scale=1.5)
    latency = next(m for m in analyzer.judge(simulate(slower, 1)).metrics if m.name == "latency")
    assert latency.verdict is Verdict.FAIL


def test_p95_beyond_the_largest_bound_is_resolution_with_bounds_to_add():
    scenario = Scenario(rps=100.0, canary_share=0.1, latency=Latency(median=20.0, sigma=0.3))
    latency = next(m for m in analyzer.judge(simulate(scenario, 1)).metrics if m.name == "latency")
    assert latency.verdict is Verdict.INCONCLUSIVE
    assert "resolution" in latency.reason and latency.diagnostics.suggested_buckets


def test_missing_metric_is_inconclusive_never_pass():
    data = simulate(Scenario(rps=100.0, canary_share=0.1, buckets=FINE_BUCKETS), 9).model_dump(mode="json")
    del data["metrics"]["latency"]
    judgment = analyzer.judge(data)
    assert judgment.verdict is Verdict.INCONCLUSIVE
    assert any("no such metric" in r for r in judgment.reasons)


def test_service_wide_slo_breach_is_inconclusive_not_the_canarys_fault():
    both_bad = Scenario(rps=100.0, canary_share=0.1, error_rate=0.09, buckets=FINE_BUCKETS)
    errors = next(m for m in analyzer.judge(simulate(both_bad, 3)).metrics if m.name == "error-rate")
    assert errors.verdict is Verdict.INCONCLUSIVE and "service-wide SLO breach" in errors.reason


def test_slo_breach_by_the_canary_alone_fails():
    policy = {
        "metrics": {"error-rate": {"kind": "ratio", "fail_ratio": 2.0, "pass_ratio": 3.0, "slo": {"limit": 0.05}}}
    }
    canary_bad = Scenario(rps=100.0, canary_share=0.5, error_rate=0.04, error_ratio=1.8, buckets=FINE_BUCKETS)
    errors = next(m for m in analyzer.judge(simulate(canary_bad, 3), policy).metrics if m.name == "error-rate")
    assert errors.verdict is Verdict.FAIL and errors.reason.startswith("SLO breach")


def test_non_critical_regression_blocks_pass_without_aborting():
    policy = Policy.model_validate(
        {"metrics": {"error-rate": {"kind": "ratio", "critical": False}, "latency": {"kind": "histogram"}}}
    )
    measurement = simulate(Scenario(rps=100.0, canary_share=0.1, error_ratio=3.0, buckets=FINE_BUCKETS), 4)
    judgment = analyzer.judge(measurement, policy)
    assert judgment.verdict is Verdict.INCONCLUSIVE
    assert judgment.reasons[0].startswith("non-critical metric regressed")


def test_dry_run_metric_is_reported_but_does_not_decide():
    policy = Policy.model_validate(
        {"metrics": {"error-rate": {"kind": "ratio", "dry_run": True}, "latency": {"kind": "histogram"}}}
    )
    measurement = simulate(Scenario(rps=100.0, canary_share=0.1, error_ratio=3.0, buckets=FINE_BUCKETS), 4)
    judgment = analyzer.judge(measurement, policy)
    errors = next(m for m in judgment.metrics if m.name == "error-rate")
    assert errors.verdict is Verdict.FAIL and judgment.verdict is Verdict.PASS


def test_kayenta_judge_flags_large_regression_and_passes_aa():
    bad = simulate(Scenario(rps=100.0, canary_share=0.1, error_ratio=5.0, steps=30), 2)
    good = simulate(Scenario(rps=100.0, canary_share=0.1, steps=30), 2)
    assert analyzer.judge(bad, judge="kayenta").verdict is Verdict.FAIL
    verdict = analyzer.judge(good, judge="kayenta")
    assert verdict.verdict is Verdict.PASS and verdict.judge == "kayenta"
