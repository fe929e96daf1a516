import numpy as np
import pytest
from scipy import special, stats

from analyzer.stats.eprocess import (
    cumulative_loglik,
    log_ratio_grid,
    lower_bounds,
    mixture_log_e,
    mixture_log_e_at,
    upper_bounds,
)
from analyzer.stats.rate_ratio import canary_share, log_canary_share


def _setup(x, n_c, n_s, events, scale=0.7):
    grid = log_ratio_grid(scale, include=(1.0, 1.5))
    log_p, log_q = log_canary_share(grid.theta[:, None], np.asarray(n_c)[None, :], np.asarray(n_s)[None, :])
    return grid, cumulative_loglik(np.asarray(x, float), np.asarray(events, float), log_p, log_q)


def test_likelihood_ratio_matches_scipy_binomial_pmf():
    x, e, n_c, n_s = [5, 9], [40, 50], [100, 120], [900, 880]
    grid, loglik = _setup(x, n_c, n_s, e)
    a, b = grid.index(1.5), grid.index(1.0)
    expected = sum(
        stats.binom.logpmf(xi, ei, n1 * 1.5 / (n1 * 1.5 + n2)) - stats.binom.logpmf(xi, ei, n1 / (n1 + n2))
        for xi, ei, n1, n2 in zip(x, e, n_c, n_s, strict=True)
    )
    assert loglik[a, -1] - loglik[b, -1] == pytest.approx(expected, rel=1e-10)


def test_single_row_equals_full_matrix():
    grid, loglik = _setup([3, 7, 2], [100, 100, 100], [900, 900, 900], [30, 40, 25])
    full_above = mixture_log_e(loglik, grid.log_prior, "above")
    full_below = mixture_log_e(loglik, grid.log_prior, "below")
    b = grid.index(1.0)
    assert np.allclose(mixture_log_e_at(loglik, grid.log_prior, b, "above"), full_above[b])
    assert np.allclose(mixture_log_e_at(loglik, grid.log_prior, b, "below"), full_below[b])


def _reference_log_e(loglik, log_prior, side):
    """Direct log-sum-exp per boundary, no running sums: the definition, slowly."""
    out = np.zeros_like(loglik)
    for b in range(loglik.shape[0]):
        rows = slice(b + 1, None) if side == "above" else slice(0, b)
        if loglik[rows].shape[0]:
            prior = log_prior[rows]
            numerator = special.logsumexp(loglik[rows] + prior[:, None], axis=0)
            out[b] = numerator - special.logsumexp(prior) - loglik[b]
    return out


@pytest.mark.parametrize("scale", [1.0, 1000.0])
@pytest.mark.parametrize("side", ["above", "below"])
def test_running_sums_agree_with_the_definition_even_where_terms_underflow(side, scale):
    """Huge counts push far-away grid points ~1e5 below the peak: the decisions must not change."""
    rng = np.random.default_rng(7)
    n_c, n_s = rng.uniform(50, 150, 20) * scale, rng.uniform(800, 1000, 20) * scale
    events = rng.binomial((n_c + n_s).astype(int), 0.02).astype(float)
    x = rng.binomial(events.astype(int), 1.4 * n_c / (1.4 * n_c + n_s)).astype(float)
    grid, loglik = _setup(x, n_c, n_s, events)
    fast = mixture_log_e(loglik, grid.log_prior, side)
    slow = _reference_log_e(loglik, grid.log_prior, side)
    close = slow > -50
    assert np.allclose(fast[close], slow[close], rtol=1e-9, atol=1e-9)
    for threshold in (np.log(20), np.log(400)):
        assert np.array_equal(fast >= threshold, slow >= threshold)


def test_mixture_is_weighted_average_of_likelihood_ratios():
    """Closed form: M = Σ w_g LR_g / Σ w_g over the points above the boundary."""
    grid, loglik = _setup([8], [100], [900], [40])
    b = grid.index(1.0)
    w = np.exp(grid.log_prior[b + 1 :])
    lr = np.exp(loglik[b + 1 :, 0] - loglik[b, 0])
    assert np.exp(mixture_log_e(loglik, grid.log_prior, "above")[b, 0]) == pytest.approx((w * lr).sum() / w.sum())


def test_e_value_has_expectation_one_under_the_null():
    """E[M] = 1 at the boundary (a martingale); estimated over 20,000 seeded draws."""
    rng = np.random.default_rng(42)
    n_c, n_s, events = 100.0, 900.0, 30
    grid = log_ratio_grid(0.7, include=(1.0,))
    shares = canary_share(grid.theta[:, None], np.array([[n_c]]), np.array([[n_s]]))
    b = grid.index(1.0)
    x = rng.binomial(events, n_c / (n_c + n_s), size=20_000).astype(float)
    per_step = x[None, :] * np.log(shares) + (events - x[None, :]) * np.log1p(-shares)  # (G, draws): one step each
    log_e = mixture_log_e_at(per_step, grid.log_prior, b, "above")
    assert np.exp(log_e).mean() == pytest.approx(1.0, abs=0.05)


def test_confidence_sequence_brackets_the_truth_and_tightens():
    rng = np.random.default_rng(3)
    n_c, n_s, ratio, p = np.full(40, 600.0), np.full(40, 5400.0), 2.0, 0.01
    x = rng.poisson(n_c * p * ratio).astype(float)
    y = rng.poisson(n_s * p).astype(float)
    grid, loglik = _setup(x, n_c, n_s, x + y)
    lower = lower_bounds(mixture_log_e(loglik, grid.log_prior, "above"), grid.theta, np.log(100))
    upper = upper_bounds(mixture_log_e(loglik, grid.log_prior, "below"), grid.theta, np.log(20))
    assert lower[-1] < ratio < upper[-1]
    assert upper[-1] - lower[-1] < upper[4] - lower[4]
