"""Dispersion estimates against known answers: binomial data, known overdispersion, level shifts."""

import math

import numpy as np
import pytest
from scipy import stats

from analyzer.stats.dispersion import pod_minute_kappa, ratio_dispersion, series_dispersion


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
