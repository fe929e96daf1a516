"""Both tests with the pod term in their nulls (analyzer/judging/evidence.py: pass_log_e, fail_log_e), and
the pod-minute dispersion's burn-in on the warm-up steps (step_dispersion)."""

from __future__ import annotations

import math

import numpy as np

from analyzer.judging.evidence import (
    PodSeries,
    StepCounts,
    compare_ratio,
    fail_log_e,
    lower_bound,
    pass_log_e,
    pass_log_prior,
    ratio_grid,
    step_dispersion,
)
from analyzer.stats.eprocess import cumulative_loglik, mixture_log_e, mixture_log_e_at
from analyzer.stats.rate_ratio import log_canary_share

GRID = ratio_grid(math.log(2.0), 1.1, 1.5)
ALPHA = 0.05


def _loglik(canary_events: np.ndarray, stable_events: np.ndarray, canary_total: np.ndarray, stable_total: np.ndarray):
    log_p, log_q = log_canary_share(GRID.theta[:, None], canary_total[None, :], stable_total[None, :])
    return cumulative_loglik(canary_events, canary_events + stable_events, log_p, log_q)


def _arms(rng: np.random.Generator, ratio: float, steps: int = 30, canary: float = 2_000.0, rate: float = 0.01):
    """Per-step Poisson counts: canary at ``ratio`` × stable's rate, stable with 5× the canary's traffic."""
    canary_total, stable_total = np.full(steps, canary), np.full(steps, 5 * canary)
    return rng.poisson(canary_total * rate * ratio).astype(float), rng.poisson(stable_total * rate).astype(float), (
        canary_total
    ), stable_total


def test_without_a_pod_term_it_is_the_mixture_likelihood_ratio_against_the_boundary():
    """s = 0: the null is the boundary itself, e-value = the pass prior's mixture below θ_b over L(θ_b)."""
    ce, se, ct, st = _arms(np.random.default_rng(1), 1.0)
    loglik = _loglik(ce, se, ct, st)
    expected = mixture_log_e(loglik[:, -1:], pass_log_prior(GRID), "below")[:, 0]
    np.testing.assert_allclose(pass_log_e(loglik[:, -1:], GRID, 0.0)[:, 0], expected, rtol=1e-12, atol=1e-12)


def test_the_null_is_the_pod_marginal_at_every_boundary():
    """Closed form on a two-point likelihood: the null at θ_b is the kernel-weighted average of L(θ_g)."""
    loglik = np.full(GRID.theta.size, -50.0)
    g = GRID.index(1.5)
    loglik[g] = 0.0
    s = 0.1
    log_theta = np.log(GRID.theta)
    b = GRID.index(1.1)
    kernel = np.exp(-0.5 * ((log_theta - log_theta[b]) / s) ** 2)
    kernel /= kernel.sum()
    null = math.log((kernel * np.exp(loglik)).sum())
    prior = np.exp(pass_log_prior(GRID)[:b])
    alternative = math.log((prior * np.exp(loglik[:b])).sum() / prior.sum())
    assert math.isclose(pass_log_e(loglik[:, None], GRID, s)[b, 0], alternative - null, rel_tol=1e-9)


def test_a_pod_term_costs_evidence_at_the_boundary():
    ce, se, ct, st = _arms(np.random.default_rng(2), 1.0)
    loglik = _loglik(ce, se, ct, st)[:, -1:]
    b = GRID.index(1.5)
    wide, narrow, none = (pass_log_e(loglik, GRID, s)[b, 0] for s in (0.15, 0.05, 0.0))
    assert wide < narrow < none


def _passes(rng: np.random.Generator, version_ratio: float, pod_sd: float, runs: int) -> float:
    """Share of runs whose pass e-value against the version's 1.5 reached 1/α at any of 30 looks, when each
    run's realised ratio is the version's times a pod draw e^δ, δ ~ N(0, pod_sd²)."""
    b = GRID.index(1.5)
    hits = 0
    for _ in range(runs):
        realised = version_ratio * math.exp(rng.normal(0.0, pod_sd))
        ce, se, ct, st = _arms(rng, realised)
        loglik = _loglik(ce, se, ct, st)
        hits += bool((pass_log_e(loglik, GRID, pod_sd)[b] >= math.log(1 / ALPHA)).any())
    return hits / runs


def test_a_version_at_the_pass_ratio_passes_at_most_alpha_over_all_looks():
    """Calibration over pods and requests together: 1,500 canaries at the boundary, read at every look."""
    rate = _passes(np.random.default_rng(3), 1.5, 0.12, 1_500)
    assert rate <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / 1_500), rate  # ≤ 6.1 %


def test_a_healthy_version_passes_despite_its_pods():
    """Its own pods' luck keeps some healthy versions from showing r < 1.5 (84 % pass here, 100 % at s = 0)."""
    assert _passes(np.random.default_rng(4), 1.0, 0.12, 200) >= 0.75
    assert _passes(np.random.default_rng(4), 1.0, 0.0, 100) == 1.0


def test_compare_ratio_reads_the_pass_test_at_the_version_ratio():
    ce, se, ct, st = _arms(np.random.default_rng(5), 1.0)
    counts = StepCounts(ce, ct, se, st)
    plain = compare_ratio(counts, 1.1, 1.5, GRID, math.log(1 / ALPHA))
    with_pods = compare_ratio(counts, 1.1, 1.5, GRID, math.log(1 / ALPHA), pass_sd=0.2)
    assert with_pods.log_e_pass < plain.log_e_pass
    assert with_pods.upper > plain.upper  # the upper bound on the version's ratio widens by the pods' spread


def test_the_fail_test_without_a_pod_term_is_the_plain_mixture_e_process():
    ce, se, ct, st = _arms(np.random.default_rng(6), 1.3)
    loglik = _loglik(ce, se, ct, st)
    b = GRID.index(1.1)
    plain = mixture_log_e_at(loglik, GRID.log_prior, b, "above")
    np.testing.assert_array_equal(fail_log_e(loglik, GRID, b, 0.0), plain)


def test_the_fail_null_is_the_pod_marginal_at_the_boundary():
    """Closed form on a two-point likelihood, at every look: the fail prior's mixture above θ_b over the
    kernel-weighted average of L(θ_g) around θ_b."""
    b, g, s = GRID.index(1.1), GRID.index(1.5), 0.1
    loglik = np.full((GRID.theta.size, 2), -50.0)
    loglik[g] = [0.0, -1.0]
    log_theta = np.log(GRID.theta)
    kernel = np.exp(-0.5 * ((log_theta - log_theta[b]) / s) ** 2)
    kernel /= kernel.sum()
    prior = np.exp(GRID.log_prior[b + 1 :])
    for look in range(2):
        null = math.log((kernel * np.exp(loglik[:, look])).sum())
        alternative = math.log((prior * np.exp(loglik[b + 1 :, look])).sum() / prior.sum())
        assert math.isclose(fail_log_e(loglik, GRID, b, s)[look], alternative - null, rel_tol=1e-9)


def _fails(rng: np.random.Generator, version_ratio: float, pod_sd: float, runs: int, alpha: float = ALPHA) -> float:
    """Share of runs whose fail e-value against the version's 1.1 reached 1/α at any of 30 looks, each run's
    realised ratio the version's times a pod draw e^δ, δ ~ N(0, pod_sd²)."""
    b = GRID.index(1.1)
    hits = 0
    for _ in range(runs):
        ce, se, ct, st = _arms(rng, version_ratio * math.exp(rng.normal(0.0, pod_sd)))
        hits += bool((fail_log_e(_loglik(ce, se, ct, st), GRID, b, pod_sd) >= math.log(1 / alpha)).any())
    return hits / runs


def test_a_version_at_the_fail_ratio_fails_at_most_alpha_over_all_looks():
    """Calibration over pods and requests together: 1,500 canaries at the fail boundary whose pods drew
    δ ~ N(0, 0.12²), read at every look — where the plain e-process, blind to the pods, fails far more."""
    rng = np.random.default_rng(7)
    rate = _fails(rng, 1.1, 0.12, 1_500)
    assert rate <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / 1_500), rate  # ≤ 6.1 %
    blind = 0
    b = GRID.index(1.1)
    for _ in range(300):
        ce, se, ct, st = _arms(rng, 1.1 * math.exp(rng.normal(0.0, 0.12)))
        blind += bool((fail_log_e(_loglik(ce, se, ct, st), GRID, b, 0.0) >= math.log(1 / ALPHA)).any())
    assert blind / 300 > 3 * ALPHA


def test_a_regressed_version_fails_despite_its_pods():
    assert _fails(np.random.default_rng(8), 2.0, 0.12, 200) >= 0.95


def test_the_lower_bound_is_on_the_version_ratio():
    """With the pod term in the null, the confidence sequence bounds the version's ratio: wider with pods."""
    ce, se, ct, st = _arms(np.random.default_rng(9), 2.0)
    counts = StepCounts(ce, ct, se, st)
    plain = compare_ratio(counts, 1.1, 1.5, GRID, math.log(1 / ALPHA))
    with_pods = compare_ratio(counts, 1.1, 1.5, GRID, math.log(1 / ALPHA), fail_sd=0.2)
    last = [counts.steps - 1]
    assert 1.1 < lower_bound(with_pods, last, math.log(1 / ALPHA)) < lower_bound(plain, last, math.log(1 / ALPHA)) < 2
    assert with_pods.fail_path[-1] < plain.fail_path[-1]


def _pods(rng: np.random.Generator, steps: int, pods: int, rate: float) -> PodSeries:
    total = np.full((pods, steps), 600.0)
    return PodSeries(rng.poisson(total * rate).astype(float), total)


def test_the_pod_minute_dispersion_burns_in_on_the_warm_up_steps():
    """The first tested step is judged by its difference from the last warm-up step, not by the arm-level
    prior (which assumes bursty minutes); the later steps see the warm-up as earlier data."""
    rng = np.random.default_rng(10)
    canary, stable = _pods(rng, 6, 2, 0.01), _pods(rng, 6, 18, 0.01)

    def counts(start: int) -> StepCounts:
        c, s = (PodSeries(p.events[:, start:], p.total[:, start:], p.events[:, :start], p.total[:, :start])
                for p in (canary, stable))
        return StepCounts(c.events.sum(axis=0), c.total.sum(axis=0), s.events.sum(axis=0), s.total.sum(axis=0),
                          canary_pods=c, stable_pods=s)

    cold, warm = step_dispersion(counts(0)), step_dispersion(counts(1))
    assert cold[0] > 4.0  # no difference yet: the arm-level prior's bursty first minute (1 + 0.1·12, raised)
    assert warm[0] < 2.0  # binomial pods, seen for one difference already
    np.testing.assert_array_equal(warm, cold[1:])  # the same estimate, the warm-up step left out of the tests
    whole = counts(0)
    since = StepCounts(whole.canary_events[1:], whole.canary_total[1:], whole.stable_events[1:],
                       whole.stable_total[1:], canary_pods=whole.canary_pods.since(1),
                       stable_pods=whole.stable_pods.since(1))
    np.testing.assert_array_equal(step_dispersion(since), warm)  # PodSeries.since moves steps into the warm-up


def test_a_sharp_likelihood_far_from_the_boundary_gives_a_finite_fail_e_value():
    """Much data and a pod sd far below the grid's spacing: the null is summed in log space after its own
    peak, so the e-value is large and finite (linear space underflowed to an infinite e-value, and the
    average of infinities read NaN: regressions went unfailed)."""
    ce, se, ct, st = _arms(np.random.default_rng(11), 3.0, canary=200_000.0)
    loglik = _loglik(ce, se, ct, st)
    path = fail_log_e(loglik, GRID, GRID.index(1.1), 0.002)
    assert np.isfinite(path).all() and path[-1] > 100  # bounded by the pod term: (log(3/1.1))² / 2s², s floored
    better = fail_log_e(_loglik(*_arms(np.random.default_rng(12), 0.3, canary=200_000.0)), GRID, GRID.index(1.1), 0.002)
    assert np.isfinite(better).all() and better.max() < 0


def test_regressions_and_improvements_at_high_traffic_on_identical_pods():
    import analyzer
    from analyzer.sources.simulate import Scenario, simulate

    for ratio, verdict in ((3.0, "fail"), (0.3, "pass")):
        scenario = Scenario(rps=12_000.0, canary_share=0.5, error_rate=0.02, error_ratio=ratio, steps=15,
                            canary_pods=10, stable_pods=10)
        result = next(m for m in analyzer.judge(simulate(scenario, 0)).metrics if m.name == "error-rate")
        assert result.verdict.value == verdict and math.isfinite(result.e_value), result.reason
        if verdict == "fail":
            assert result.reason.startswith("regression") and result.interval.lower <= 3.0


def test_a_pod_sd_below_the_grid_spacing_keeps_the_fail_test_calibrated():
    """A version at exactly the fail ratio whose pods drew a continuous δ ~ N(0, 0.0085²), 30 looks of
    20,000 requests an arm at 5 %: on the grid an unfloored kernel that narrow is a point mass at θ_b,
    which failed 3.4-3.8 % of such versions at α = 0.45 %."""
    rng, alpha, runs = np.random.default_rng(13), 0.0045, 1_000
    b, hits = GRID.index(1.1), 0
    n = np.full(30, 20_000.0)
    for _ in range(runs):
        theta = 1.1 * math.exp(rng.normal(0.0, 0.0085))
        ce, se = rng.binomial(20_000, 0.05 * theta, 30).astype(float), rng.binomial(20_000, 0.05, 30).astype(float)
        hits += bool((fail_log_e(_loglik(ce, se, n, n), GRID, b, 0.0085) >= math.log(1 / alpha)).any())
    assert hits / runs <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / runs), hits


def test_the_confidence_bounds_hold_the_true_ratio_between_grid_points():
    """A grid bound is the last value the tests excluded, never the next untested grid point."""
    ce, se, ct, st = _arms(np.random.default_rng(14), 1.9, canary=400_000.0)
    evidence = compare_ratio(StepCounts(ce, ct, se, st), 1.1, 1.5, GRID, math.log(1 / ALPHA))
    assert lower_bound(evidence, [ct.size - 1], math.log(1 / ALPHA)) <= 1.9
