"""Resumed e-process paths equal the ones from scratch to the last bit, over looks at growing windows."""

import numpy as np
import pytest

from analyzer.judging.resumed import PATHS, limit_path, ratio_path
from analyzer.stats.eprocess import cumulative_loglik, log_ratio_grid, mixture_log_e_at
from analyzer.stats.rate_ratio import log_canary_share


@pytest.fixture(autouse=True)
def _empty_memo():
    PATHS.clear()
    yield
    PATHS.clear()


def _looks(rng, steps):
    """Counts of a growing window, the newest 1-3 steps re-read with new values at every look."""
    n_c, n_s = rng.poisson(300.0, steps).astype(float), rng.poisson(2700.0, steps).astype(float)
    n_c[rng.random(steps) < 0.05] = 0.0
    x_c, x_s = rng.binomial(n_c.astype(int), 0.02).astype(float), rng.binomial(n_s.astype(int), 0.01).astype(float)
    weights = 1.0 / (1.0 + rng.random(steps))
    for k in range(1, steps + 1):
        late = slice(max(k - int(rng.integers(1, 4)), 0), k)
        bump = rng.random(late.stop - late.start)
        yield tuple(a[:k].copy() for a in (x_c, x_s, n_c, n_s, weights)), late, bump


def _ratio_from_scratch(grid, b, x_c, events, n_c, n_s, weights):
    log_p, log_q = log_canary_share(grid.theta[:, None], n_c[None, :], n_s[None, :])
    loglik = cumulative_loglik(x_c, events, log_p, log_q, weights=weights)
    return loglik, mixture_log_e_at(loglik, grid.log_prior, b, "above")


def test_ratio_paths_resumed_over_looks_equal_the_paths_from_scratch(monkeypatch):
    rng = np.random.default_rng(1)
    grid = log_ratio_grid(0.7, include=(1.5, 1.2))
    found = []
    longest = PATHS.longest
    monkeypatch.setattr(PATHS, "longest", lambda digests: found.append(longest(digests)) or found[-1])
    for (x_c, x_s, n_c, n_s, w), late, bump in _looks(rng, 80):
        x_c[late] = np.minimum(x_c[late] + np.round(bump), n_c[late])  # late samples
        b = grid.index(1.5)
        resumed = ratio_path(grid.theta, grid.log_prior, b, x_c, x_c + x_s, n_c, n_s, w)
        loglik, path = _ratio_from_scratch(grid, b, x_c, x_c + x_s, n_c, n_s, w)
        assert np.array_equal(resumed.loglik, loglik) and np.array_equal(resumed.path, path)
    resumed_from = [entry.steps for entry in found if entry is not None]
    assert len(resumed_from) > 70 and min(resumed_from) >= 1  # every look but the first few resumed


def test_a_resumed_path_is_used_and_read_only():
    rng = np.random.default_rng(2)
    grid = log_ratio_grid(0.7)
    x_c, n_c = rng.poisson(5.0, 50).astype(float), np.full(50, 500.0)
    x_s, n_s = rng.poisson(45.0, 50).astype(float), np.full(50, 4500.0)
    head = slice(0, 49)
    first = ratio_path(grid.theta, grid.log_prior, 70, x_c[head], (x_c + x_s)[head], n_c[head], n_s[head],
                       n_c[head] / 500)
    again = ratio_path(grid.theta, grid.log_prior, 70, x_c, x_c + x_s, n_c, n_s, n_c / 500)
    assert not again.loglik.flags.writeable and not again.path.flags.writeable
    assert np.array_equal(again.loglik[:, :49], first.loglik)
    PATHS.clear()
    assert np.array_equal(ratio_path(grid.theta, grid.log_prior, 70, x_c, x_c + x_s, n_c, n_s, n_c / 500).path,
                          again.path)


def test_limit_paths_resumed_equal_the_paths_from_scratch():
    rng = np.random.default_rng(3)
    grid = log_ratio_grid(0.7, include=(1.0,))
    start = grid.index(1.0)
    probs = np.minimum(0.05 * grid.theta[start:], 1.0 - 1e-12)
    for (x_c, _, n_c, _, w), late, bump in _looks(rng, 60):
        x_c[late] = np.minimum(x_c[late] + np.round(3 * bump), n_c[late])
        resumed = limit_path(probs, grid.log_prior[start:], x_c, n_c, w)
        p = probs[:, None]
        loglik = cumulative_loglik(x_c, n_c, np.log(p), np.log1p(-p), weights=w)
        assert np.array_equal(resumed.loglik, loglik)
        assert np.array_equal(resumed.path, mixture_log_e_at(loglik, grid.log_prior[start:], 0, "above"))


def test_another_grid_or_boundary_is_another_key():
    grid = log_ratio_grid(0.7)
    x, n = np.array([3.0, 4.0, 2.0]), np.array([300.0, 400.0, 200.0])
    one = ratio_path(grid.theta, grid.log_prior, 70, x, 2 * x, n, n, np.ones(3))
    other = ratio_path(grid.theta, grid.log_prior, 80, x, 2 * x, n, n, np.ones(3))
    assert not np.array_equal(one.path, other.path)
    assert np.array_equal(other.path, mixture_log_e_at(other.loglik, grid.log_prior, 80, "above"))
