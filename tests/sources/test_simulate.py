"""The simulator's knobs do what they say (seeded checks against closed forms)."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.sources.simulate import BIMODAL, Latency, Scenario, simulate


@pytest.mark.parametrize(
    "changes",
    [{}, {"scale": 1.5}, {"shift": 0.02}, {"slow_scale": 1.5}, {"slow_weight": 0.15}],
)
def test_cdf_matches_the_sampler(changes):
    rng = np.random.default_rng(3)
    samples = BIMODAL.sample(rng, 200_000, **changes)
    for x in (0.03, 0.05, 0.1, 0.3, 0.5):
        assert BIMODAL.cdf(x, **changes) == pytest.approx(np.mean(samples <= x), abs=0.004)


def _errors(m, arm):
    r = m.metrics["error-rate"]
    counts = getattr(r, arm)
    return np.asarray(counts.events), np.asarray(counts.total)


def test_overdispersion_widens_per_step_error_rates_beyond_binomial():
    plain = [simulate(Scenario(steps=60, rps=200, error_rate=0.02), seed) for seed in range(3)]
    noisy = [simulate(Scenario(steps=60, rps=200, error_rate=0.02, common_sigma=0.5), seed) for seed in range(3)]

    def spread(ms):
        rates = [e / t for m in ms for e, t in [_errors(m, "stable")]]
        return float(np.mean([np.std(r) for r in rates]))

    assert spread(noisy) > 2 * spread(plain)


def test_spike_burst_and_canary_only_noise():
    base = Scenario(steps=20, rps=100, canary_share=0.5, error_rate=0.01)
    spiked = simulate(Scenario(**{**base.__dict__, "spike_start": 5, "spike_steps": 3}), 1)
    _, total = _errors(spiked, "stable")
    assert total[5:8].mean() > 2.5 * np.r_[total[:5], total[8:]].mean()
    burst = simulate(Scenario(**{**base.__dict__, "burst_start": 10, "burst_steps": 5}), 1)
    events, total = _errors(burst, "canary")
    assert events[10:15].sum() / total[10:15].sum() > 5 * events[:10].sum() / total[:10].sum()
    stable_events, _ = _errors(burst, "stable")
    assert stable_events[10:15].sum() < 3 * stable_events[:5].sum() + 10
    assert simulate(base, 4) == simulate(Scenario(**base.__dict__), 4)  # same seed, same run


def test_latency_regression_knobs_move_the_canary_only():
    q = Latency().cdf
    assert q(0.2, shift=0.02) < q(0.2) and q(0.2, scale=1.2) < q(0.2)
    slower = simulate(Scenario(steps=10, rps=200, latency_shift=0.05), 2)
    lat = slower.metrics["latency"]
    canary_fast = np.asarray(lat.canary)[:, 4].sum() / np.asarray(lat.canary)[:, -1].sum()  # le = 0.1
    stable_fast = np.asarray(lat.stable)[:, 4].sum() / np.asarray(lat.stable)[:, -1].sum()
    assert canary_fast < stable_fast - 0.2
