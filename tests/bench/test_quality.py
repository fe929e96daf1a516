"""The benchmark's own machinery against known answers, and a tiny end-to-end run."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from analyzer.model import Kind as MetricKind
from analyzer.model import MetricPolicy
from analyzer.sources.simulate import BIMODAL, Latency, Scenario, simulate
from bench.quality import acceptance as acceptance_module
from bench.quality.grid import HEALTHY, Kind, acceptance, binomial_reference, full, production, quick
from bench.quality.judges import JUDGES, argo
from bench.quality.msprt import Pair, log_mixture_ratio, msprt, upper_bound
from bench.quality.oracle import Stream, sprt
from bench.quality.run import Record, _arm_totals, _split, run_cell, summarise, true_quantile, wilson


def test_wilson_interval_known_values():
    low, high = wilson(0, 200)
    assert low == 0.0 and high == pytest.approx(0.01884, abs=1e-4)  # 1.96² / (200 + 1.96²)
    low, high = wilson(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_sprt_boundaries_are_walds():
    """Λ_K by hand (Wald's formula); the test stops exactly where Λ first leaves (ln B, ln A)."""
    events, trials, p0, p1 = [5.0, 12.0, 14.0, 13.0, 15.0], [100.0] * 5, 0.05, 0.1
    upper, lower = math.log((1 - 0.05) / 0.01), math.log(0.05 / (1 - 0.01))
    path, expected = 0.0, None
    for k, (x, n) in enumerate(zip(events, trials, strict=True), start=1):
        path += x * math.log(p1 / p0) + (n - x) * math.log((1 - p1) / (1 - p0))
        if expected is None and (path >= upper or path <= lower):
            expected = ("fail" if path >= upper else "pass", k)
    assert expected is not None and expected[0] == "fail"
    decision = sprt([Stream(np.array(events), np.array(trials), p0, p1)], alpha=0.01, beta=0.05)
    assert (decision.fail, decision.passed) == (expected[1], None)
    quiet = sprt([Stream(np.full(10, 5.0), np.full(10, 100.0), p0, p1)])
    assert quiet.fail is None and quiet.passed == 2  # Λ = -1.67 per minute at 5/100: past ln B = -2.99 at minute 2


def test_sprt_error_rates_in_simulation():
    rng = np.random.default_rng(0)
    fails = sum(sprt([Stream(rng.binomial(100, 0.05, 30).astype(float), np.full(30, 100.0), 0.05, 0.1)]).fail
                is not None for _ in range(2000))
    assert fails / 2000 <= 0.01 + 0.007  # Wald: α(1-β) bound plus binomial slack


def test_argo_threshold_semantics():
    """failureLimit 0 fails at the first bad minute; NaN (no traffic) fails the condition."""
    m = simulate(Scenario(steps=10, rps=0.01, canary_share=0.5), 1)  # almost no traffic: NaN minutes
    assert argo(False, 0)(m).fail == 1
    busy = simulate(Scenario(steps=10, rps=200, error_rate=0.001, latency=Latency(0.05, 0.3)), 1)
    assert argo(False, 0)(busy).fail is None and argo(False, 0)(busy).passed == 10


def test_true_quantiles():
    assert true_quantile(Latency(0.1, 0.5)) == pytest.approx(0.1 * math.exp(0.5 * 1.6448536), rel=1e-6)
    assert true_quantile(BIMODAL) == pytest.approx(0.40, abs=0.02)


def test_grids_cover_the_protocol():
    cells = full()
    assert len({c.name for c in cells}) == len(cells)
    assert {2.0, 20.0, 200.0, 2000.0} <= {c.scenario.rps for c in cells}
    assert {c.kind for c in quick()} == set(Kind)
    pods = [c for c in acceptance() if c.kind is Kind.AA and not c.binomial]
    grid = {(c.scenario.pod_error_sd, c.scenario.canary_pods, c.canary_rps) for c in pods}
    assert {(sd, n, rps) for sd in (0.1, 0.2, 0.3) for n in (1, 2, 3) for rps in (2.0, 20.0, 200.0)} <= grid
    assert {c.scenario.burst_cv for c in pods} >= {0.3, 0.5}
    assert any(c.scenario.metric_pairs == 3 for c in pods) and any(c.scenario.cold_factor for c in pods)
    assert sum(c.healthy_target for c in acceptance()) == 1 and any(c.starved for c in acceptance())
    references = [c for c in acceptance() if acceptance_module.is_reference_cell(c)]
    assert len(references) == 8 and sum(c.binomial for c in references) == 4  # arm totals and identical pods
    assert all(c.scenario.canary_pods == 2 for c in references if not c.binomial)
    arm_totals = [c for c in acceptance() if c.arm_totals]
    assert {(c.scenario.burst_cv, c.canary_rps) for c in arm_totals} == {(0.3, 20.0), (0.3, 200.0), (0.5, 20.0),
                                                                          (0.5, 200.0)}
    assert all(c.kind is Kind.AA and not c.independent_requests for c in arm_totals)  # bursty pod-minutes
    assert {(c.kind, c.scenario, c.arm_totals) for c in acceptance()} <= {(c.kind, c.scenario, c.arm_totals)
                                                                          for c in cells}


def test_an_arm_totals_cell_is_judged_without_its_pods():
    cell = next(c for c in acceptance() if c.arm_totals)
    m = simulate(replace(cell.scenario, steps=3), 1)
    assert all(d.pods is not None for d in m.metrics.values())
    stripped = _arm_totals(m)
    assert all(d.pods is None for d in stripped.metrics.values())
    assert stripped.model_dump(exclude={"metrics": {"__all__": {"pods"}}}) == m.model_dump(
        exclude={"metrics": {"__all__": {"pods"}}})


def test_a_tiny_run_end_to_end():
    cell = next(c for c in quick() if c.name == "errors ×2, 200 rps 10 %")
    summaries = {s.judge: s for s in summarise(cell, run_cell(cell, range(4)))}
    assert set(summaries) == {"ours", "oracle", "msprt", "kayenta", "argo-abs-f0", "argo-abs-f3", "argo-rel-f0",
                              "argo-rel-f3"}
    assert summaries["ours"].fail == 1.0 and summaries["ours"].ttd_median is not None


def test_a_production_cell_end_to_end_without_the_oracle_bound():
    """The judges see the cell's own buckets on both arms and on every pod; the run gives every judge a record."""
    cell = next(c for c in production() if c.name == HEALTHY)
    q95 = true_quantile(cell.scenario.latency)
    full_measurement = simulate(replace(cell.scenario, buckets=tuple(sorted({*cell.scenario.buckets, q95}))), 3)
    m, (slow, total, stable_slow, stable_total) = _split(full_measurement, q95)
    latency = m.metrics["latency"]
    assert latency.le[:-1] == list(cell.scenario.buckets)
    assert all(len(row) == len(latency.le) for rows in latency.pods.stable.values() for row in rows)
    assert np.allclose(total, np.asarray(latency.canary)[:, -1])
    assert np.all(slow <= total) and np.all(stable_slow <= stable_total)
    records = run_cell(cell, range(2))
    assert {r.judge for r in records} == set(JUDGES) | {"oracle", "msprt"}


# --- the mixture SPRT (Johari et al. 2017)


def test_mixture_ratio_by_hand_and_its_interval_inverts_it():
    theta, variance, tau = np.array(0.4), np.array(0.01), math.log(2)
    by_hand = 0.5 * math.log(0.01 / (0.01 + tau**2)) + tau**2 * 0.4**2 / (2 * 0.01 * (0.01 + tau**2))
    assert float(log_mixture_ratio(theta, variance, 0.0, tau)) == pytest.approx(by_hand)
    upper = upper_bound(theta, variance, 0.05, tau)
    assert float(log_mixture_ratio(theta, variance, float(upper), tau)) == pytest.approx(math.log(1 / 0.05))


AT_THE_NULL = MetricPolicy(kind=MetricKind.RATIO, fail_ratio=1.0, pass_ratio=1.5, warmup_steps=0)


def _binomial_pair(scenario, seed, metric=AT_THE_NULL):
    errors = simulate(scenario, seed).metrics["error-rate"]
    counts = [np.asarray(v) for arm in (errors.canary, errors.stable) for v in (arm.events, arm.total)]
    return Pair(*counts, metric=metric)


@pytest.mark.parametrize("scenario", [Scenario(rps=200.0, canary_share=0.1), Scenario(rps=20.0, error_rate=0.05)])
def test_msprt_is_anytime_valid_on_binomial_aa(scenario):
    """At the null itself (ratio 1, no warm-up), over 30 looks: at most α = 1 % of 400 runs fail (with
    the 99 % binomial margin of a 1 % rate)."""
    fails = sum(msprt([_binomial_pair(scenario, 7000 + seed)]).fail is not None for seed in range(400))
    assert fails <= stats.binom.ppf(0.99, 400, 0.01)


def test_msprt_detects_and_passes():
    doubled = Scenario(rps=200.0, canary_share=0.1, error_ratio=2.0)
    assert msprt([_binomial_pair(doubled, 1)]).fail is not None
    healthy = msprt([_binomial_pair(Scenario(rps=2000.0, canary_share=0.1), 1)])
    assert healthy.fail is None and healthy.passed is not None


# --- the acceptance summary


def _records(cell, judge, fails=(), passes=(), runs=None):
    """Hand-made records: the given fail and pass minutes, then runs that did neither."""
    n = runs or max(len(fails), len(passes))
    fail = [*fails, *[None] * (n - len(fails))]
    passed = [*passes, *[None] * (n - len(passes))]
    return [Record(cell.name, cell.kind.value, s, judge, fail[s], passed[s], 0.0) for s in range(n)]


def test_acceptance_numbers_on_hand_made_records():
    healthy = next(c for c in production() if c.healthy_target)
    starved = next(c for c in production() if c.starved)
    reference = next(c for c in binomial_reference() if acceptance_module.is_reference_cell(c))
    improvement = next(c for c in production() if c.kind is Kind.IMPROVEMENT)
    summaries = [
        *summarise(healthy, _records(healthy, "ours", fails=[4, 9, 20], passes=[None] * 3 + [6] * 410, runs=500)),
        *summarise(starved, _records(starved, "ours", runs=500)),
        *summarise(reference, _records(reference, "ours", fails=[3, 3, 4]) + _records(reference, "msprt",
                                                                                      fails=[2, 2, 3])),
        *summarise(improvement, _records(improvement, "ours", fails=[12], runs=3)),
    ]
    found = {c.what: c for c in acceptance_module.checks([healthy, starved, reference, improvement], summaries)}
    aa = found[healthy.name]
    _, high = wilson(3, 500)
    assert aa.figure == f"0.6 % (95 % upper {100 * high:.1f} %, 500 runs)" and aa.met
    assert found[f"{healthy.name}: passes"].figure == "82.0 % passed within 30 min (median 6 min)"
    assert found[f"{healthy.name}: passes"].met
    assert found[starved.name].figure == "0.0 % (95 % upper 0.8 %, 500 runs)" and found[starved.name].met
    ttd = found[f"{reference.name}: time to detect, ours / mixture SPRT"]
    assert ttd.figure == "3 min / 2 min = 1.50×" and ttd.met is False
    assert found[f"{improvement.name}: never fails"].figure == "1 of 3 failed"
    never_passed = found[f"{starved.name}: never passes"]
    assert never_passed.figure == "0 of 500 passed" and never_passed.met
    lines = acceptance_module.render(list(found.values()))
    assert lines[-1] == f"- **{sum(bool(c.met) for c in found.values())} of {len(found)} acceptance checks met**"


def test_the_arm_totals_what_if_holds_phi_at_one_only_inside_its_block():
    from analyzer.judging.evidence import StepCounts, step_dispersion
    from bench.quality.arm_totals import binomial_minutes

    rng = np.random.default_rng(1)
    total = np.full(8, 12_000.0)
    counts = StepCounts(rng.poisson(120, 8).astype(float), total / 10, rng.poisson(1_200, 8).astype(float), total)
    before = step_dispersion(counts)
    with binomial_minutes():
        np.testing.assert_array_equal(step_dispersion(counts), np.ones(8))
    np.testing.assert_array_equal(step_dispersion(counts), before)
    assert before[0] > 10  # the bursty prior at 120 expected canary errors a minute
