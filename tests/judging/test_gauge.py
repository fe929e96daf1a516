"""Per-pod gauges: the pooled t test on pods' log means, read at checkpoints, inside the judge."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analyzer.judging import judge
from analyzer.judging.gauge import FIRST_FAIL_STEPS, checkpoint_alpha, checkpoints, compare
from analyzer.judging.ours import budgets
from analyzer.model import Measurement, MetricPolicy, Policy, Slo, Verdict
from bench.gauges import GaugeCell, run_gauges, simulate_gauge, wilson_upper

POLICY = Policy(metrics={"cpu": MetricPolicy(kind="gauge", fail_ratio=1.2, pass_ratio=1.3)})


def _measure(metric: dict) -> Measurement:
    return Measurement.model_validate({"metrics": {"cpu": metric}})


def _constant(canary: list[float], stable: list[float], steps: int = 20) -> dict:
    """Pods that keep one level each, every step."""
    return {
        "kind": "gauge",
        "canary": {f"c{i}": [v] * steps for i, v in enumerate(canary)},
        "stable": {f"s{i}": [v] * steps for i, v in enumerate(stable)},
    }


def test_the_comparison_is_scipys_pooled_t_test_on_the_pods_log_means():
    rng = np.random.default_rng(3)
    canary, stable = rng.lognormal(0.2, 0.1, (2, 6)), rng.lognormal(0.0, 0.1, (7, 6))
    look = compare(np.log(canary), np.log(stable), sign=1.0)
    c_means, s_means = np.log(canary).mean(axis=1), np.log(stable).mean(axis=1)
    margin = math.log(1.1)
    expected = stats.ttest_ind(c_means - margin, s_means, equal_var=True, alternative="greater")
    assert look is not None and look.df == 7
    assert look.p_value(margin) == pytest.approx(expected.pvalue, rel=1e-9)
    assert look.diff == pytest.approx(c_means.mean() - s_means.mean())
    # The confidence bound is the margin at which the p-value is exactly alpha.
    assert look.p_value(look.bound(0.01, -1)) == pytest.approx(0.01, rel=1e-6)
    assert 1 - look.p_value(look.bound(0.05, +1)) == pytest.approx(0.05, rel=1e-6)
    mirrored = compare(np.log(canary), np.log(stable), sign=-1.0)
    assert mirrored is not None and mirrored.diff == pytest.approx(-look.diff)


def test_checkpoints_double_and_their_alphas_sum_to_alpha():
    assert checkpoints(3, 30) == [3, 6, 12, 24]
    assert checkpoints(5, 4) == []
    assert sum(checkpoint_alpha(0.01, j) for j in range(1, 10_000)) == pytest.approx(0.01, rel=1e-3)
    assert sum(checkpoint_alpha(0.01, j) for j in range(1, 10_000)) < 0.01


def test_too_few_pods_cannot_tell():
    m = _measure(_constant([5.0], [1.0]))  # one pod per arm: no spread to judge a five-fold difference by
    result = judge(m, POLICY).metrics[0]
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "the pods cannot tell" in result.reason


def test_a_clear_regression_fails_and_a_match_passes():
    worse = judge(_measure(_constant([1.5, 1.52], [1.0, 1.02, 0.98, 1.01])), POLICY).metrics[0]
    assert worse.verdict is Verdict.FAIL and worse.fail_step == POLICY.warmup_steps + FIRST_FAIL_STEPS - 1
    assert worse.interval.lower is not None and worse.interval.lower > 1.2
    log_ratio = np.log([1.5, 1.52]).mean() - np.log([1, 1.02, 0.98, 1.01]).mean()
    assert worse.estimate.ratio == pytest.approx(math.exp(log_ratio))
    same = judge(_measure(_constant([1.0, 1.01], [1.0, 1.02, 0.98, 1.01])), POLICY).metrics[0]
    assert same.verdict is Verdict.PASS, same.reason
    assert same.interval.upper is not None and same.interval.upper < 1.3


def test_direction_lower_is_worse_fails_a_drop_and_ignores_a_rise():
    lower = Policy(metrics={"cpu": MetricPolicy(kind="gauge", direction="lower", fail_ratio=1.2, pass_ratio=1.3)})
    dropped = judge(_measure(_constant([0.5, 0.51], [1.0, 1.02, 0.98, 1.01])), lower).metrics[0]
    assert dropped.verdict is Verdict.FAIL
    assert dropped.estimate.ratio is not None and dropped.estimate.ratio > 1.9  # stable ÷ canary: above 1 is worse
    risen = judge(_measure(_constant([2.0, 2.02], [1.0, 1.02, 0.98, 1.01])), lower).metrics[0]
    assert risen.verdict is Verdict.PASS


def test_pass_needs_the_duration_since_the_analysis_step_began():
    m = _measure(_constant([1.0, 1.01], [1.0, 1.02, 0.98, 1.01], steps=12))
    assert judge(m, POLICY).metrics[0].verdict is Verdict.PASS
    late = judge(m, POLICY, pass_from_step=9).metrics[0]  # 3 steps since: 180 s < 300 s
    assert late.verdict is Verdict.INCONCLUSIVE and "180 s of data (need 300 s)" in late.reason


def test_missing_samples_and_values_at_zero_are_left_out_with_a_note():
    data = _constant([1.0, 1.01], [1.0, 1.02, 0.98, 1.01])
    data["canary"]["c0"][5] = None
    data["stable"]["s0"][6] = 0.0
    result = judge(_measure(data), POLICY).metrics[0]
    assert result.verdict is Verdict.PASS
    assert result.samples.canary_requests == 2 * 19 - 1  # pod-steps with a value, after the warm-up step
    assert any("1 values ≤ 0 left out" in note for note in result.diagnostics.notes)


def test_gauges_and_thresholds_take_their_share_of_the_e_bonferroni_budget():
    policy = Policy(
        metrics={
            "error-rate": MetricPolicy(kind="ratio", slo=Slo(limit=0.05)),
            "cpu": MetricPolicy(kind="gauge"),
            "restarts": MetricPolicy(kind="threshold", limit=0, pass_limit=0.1, bound=1),
        }
    )
    split = budgets(policy, dict(policy.metrics))
    assert split["cpu"].alpha_fail == split["restarts"].alpha_fail == pytest.approx(0.01 * 0.9 / 3)
    assert split["error-rate"].alpha_slo == pytest.approx(0.01 * 0.1)


def test_a_a_false_fails_stay_below_one_percent_with_few_pods():
    """500 A/A canaries across 1-3 canary and 2-10 stable pods (bench/gauges.py runs 2,000 per cell)."""
    cells = [GaugeCell("1+2", 1, 2), GaugeCell("2+5", 2, 5), GaugeCell("3+10", 3, 10, tails="t3"),
             GaugeCell("2+10 at the margin", 2, 10, effect=1.2), GaugeCell("2+3, ar 0.9", 2, 3, pod_sd=0.0, ar=0.9)]
    outcomes = run_gauges(cells, runs=100, seed=5)
    fails, runs = sum(o.fails for o in outcomes), sum(o.runs for o in outcomes)
    assert runs == 500
    assert fails <= 5, [o.line() for o in outcomes]  # ≤ 1 %: at 3 % there would be ~15
    assert wilson_upper(fails, runs) < 0.03


def test_cpu_times_one_and_a_half_on_two_canary_pods_fails():
    """Power: ×1.5 on 2 canary pods against 8 stable, at the spread evenly loaded pods show (sd 3 %)."""
    cell = GaugeCell("x1.5", 2, 8, effect=1.5, pod_sd=0.03, noise_sd=0.05)
    (outcome,) = run_gauges([cell], runs=100, seed=11)
    assert outcome.fails >= 95 and outcome.passes == 0, outcome.line()
    rng = np.random.default_rng(2)
    first = judge(_measure(simulate_gauge(cell, rng)), POLICY).metrics[0]
    assert first.verdict is Verdict.FAIL and first.fail_step is not None and first.fail_step < 10


def test_a_canary_at_the_pass_margin_rarely_passes():
    """×1.3 is pass_ratio itself: a pass there is a false pass, at most α_pass = 5 % over every checkpoint."""
    (outcome,) = run_gauges([GaugeCell("x1.3", 2, 10, effect=1.3)], runs=200, seed=8)
    assert outcome.passes <= 10, outcome.line()
