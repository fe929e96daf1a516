"""Dispersion estimates against known answers: binomial data, known overdispersion, level shifts."""

import bisect
import math

import numpy as np
import pytest
from scipy import stats

from analyzer.stats import dispersion
from analyzer.stats.dispersion import (
    CHI2_1_MEDIAN,
    WINSOR,
    _winsorised,
    pod_minute_kappa,
    rate_dispersion,
    ratio_dispersion,
    series_dispersion,
)


def _arms(rng, steps, n_c, n_s, p, phi_noise=0.0, ratio=1.0, onset=0):
    """Per-step counts; phi_noise is the cv of a gamma factor on the canary's rate (bursts)."""
    burst = rng.gamma(1 / phi_noise**2, phi_noise**2, steps) if phi_noise else np.ones(steps)
    lift = np.where(np.arange(steps) >= onset, ratio, 1.0)
    x_c = rng.poisson(n_c * p * burst * lift).astype(float)
    x_s = rng.poisson(n_s * p * np.ones(steps)).astype(float)
    return x_c, np.full(steps, float(n_c)), x_s, np.full(steps, float(n_s))


def test_binomial_data_gets_close_to_one():
    rng = np.random.default_rng(1)
    last = [ratio_dispersion(*_arms(rng, 30, 1000, 9000, 0.01))[-1] for _ in range(300)]
    assert 1.0 <= np.median(last) < 1.6


def test_known_overdispersion_is_recovered():
    # canary rate x Gamma(cv 0.5) per step at 100 expected events: Var = μ + 0.25 μ², φ ≈ 1 + 0.25·μ·(1-π)² …
    rng = np.random.default_rng(2)
    n_c, n_s, p = 10_000, 90_000, 0.01
    mu_c, mu_s = n_c * p, n_s * p
    share = mu_c / (mu_c + mu_s)
    truth = ((1 - share) ** 2 * (mu_c + 0.25 * mu_c**2) + share**2 * mu_s) / ((1 - share) ** 2 * mu_c + share**2 * mu_s)
    last = [ratio_dispersion(*_arms(rng, 30, n_c, n_s, p, phi_noise=0.5))[-1] for _ in range(200)]
    assert 0.8 * truth < np.median(last) < 1.5 * truth


def test_a_level_shift_is_not_noise():
    """An onset moves every later residual alike: the successive differences hardly notice it."""
    rng = np.random.default_rng(3)
    shifted = [ratio_dispersion(*_arms(rng, 30, 2000, 18000, 0.01, ratio=2.0, onset=10))[-1] for _ in range(200)]
    assert np.median(shifted) < 2.0


def test_first_steps_assume_bursts_in_proportion_to_the_counts():
    big = series_dispersion(np.array([1000.0]), np.array([1000.0]), np.array([990.0]))
    small = series_dispersion(np.array([2.0]), np.array([2.0]), np.array([1.98]))
    assert big[0] > 10 * small[0] and small[0] >= 1.0


def test_pod_minute_kappa_recovers_negative_binomial_burstiness():
    rng = np.random.default_rng(4)
    pods, steps, n, p, cv = 12, 20, 5000.0, 0.01, 0.4
    effect = np.exp(rng.normal(0, 0.3, (pods, 1)))  # persistent pod effects must not count as bursts
    rate = p * effect * rng.gamma(1 / cv**2, cv**2, (pods, steps))
    events = rng.poisson(n * rate).astype(float)
    kappa = pod_minute_kappa(events, np.full((pods, steps), n))
    assert kappa[0] == 0.0
    assert 0.6 * cv**2 < kappa[-1] < 1.5 * cv**2


def test_tempered_likelihood_ratio_is_an_e_value_at_the_true_dispersion():
    """E[LR^(1/φ)] ≤ 1 under N(μ₀, φσ²) (the normal approximation the tempering rests on)."""
    rng = np.random.default_rng(5)
    phi, delta = 4.0, 1.0
    x = rng.normal(0.0, np.sqrt(phi), 200_000)
    log_lr = delta * x - delta**2 / 2  # N(δ, 1) against N(0, 1)
    tempered = np.exp(log_lr / phi)
    assert np.mean(tempered) == pytest.approx(1.0, abs=4 * stats.sem(tempered))  # closed form: exactly 1
    # untempered, E = exp((φ - 1) δ² / 2) = e^1.5: not an e-value
    assert np.mean(np.exp(log_lr)) == pytest.approx(math.exp((phi - 1) * delta**2 / 2), rel=0.05)


def _winsorised_by_sorted_list(residual, paired):
    """The per-step running median the vectorised cap replaced (a sorted list, one insort per step)."""
    values, seen = residual.tolist(), []
    for k in np.flatnonzero(paired).tolist():
        bisect.insort(seen, values[k])
        middle = len(seen) >> 1
        median = seen[middle] if len(seen) & 1 else 0.5 * (seen[middle - 1] + seen[middle])
        values[k] = min(values[k], max(WINSOR, WINSOR / CHI2_1_MEDIAN * median))
    return np.asarray(values)


def test_the_vectorised_cap_equals_a_running_median_to_the_last_bit():
    rng = np.random.default_rng(5)
    for _ in range(400):
        n = int(rng.integers(0, 400))
        residual = rng.chisquare(1, n) * rng.choice([1.0, 3.0, 10.0, 30.0])
        if rng.random() < 0.3:
            residual = np.round(residual)  # ties
        paired = rng.random(n) < rng.random()
        assert np.array_equal(_winsorised(residual, paired), _winsorised_by_sorted_list(residual, paired))


def test_the_cap_reads_its_median_in_chunks_the_same(monkeypatch):
    rng = np.random.default_rng(6)
    residual, paired = rng.chisquare(1, 300) * 20.0, rng.random(300) < 0.9
    whole = _winsorised(residual, paired)
    monkeypatch.setattr(dispersion, "_MEDIAN_CELLS", 700)  # two or three rows per chunk
    assert np.array_equal(_winsorised(residual, paired), whole)


def test_rate_dispersion_and_kappa_are_prequential():
    """A longer window never changes an earlier step's φ or κ: the judge resumes from the look before."""
    rng = np.random.default_rng(7)
    events, total = rng.poisson(20.0, (5, 60)).astype(float), rng.poisson(2000.0, (5, 60)).astype(float)
    kappa, phi = pod_minute_kappa(events, total), rate_dispersion(events[0], total[0])
    for k in (1, 2, 17, 59):
        assert np.array_equal(pod_minute_kappa(events[:, :k], total[:, :k]), kappa[:k])
        assert np.array_equal(rate_dispersion(events[0, :k], total[0, :k]), phi[:k])
