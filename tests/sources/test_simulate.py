"""The simulator's knobs do what they say (seeded checks against closed forms)."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from analyzer.sources.increase import promql_increase
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


# --- production shape: pods, burstiness, scrapes and PromQL's increase()

PODS = Scenario(rps=1200.0, canary_share=2 / 12, canary_pods=2, stable_pods=10)
ALL_ON = replace(PODS, pod_error_sd=0.2, pod_latency_sd=0.05, pod_traffic_sd=0.1, burst_cv=0.3, burst_requests=True,
                 cold_factor=0.15, error_spike_at=600.0, scrape_seconds=15.0, lazy_error_series=True)


@pytest.mark.parametrize("scenario", [PODS, ALL_ON, replace(ALL_ON, metric_pairs=3, ha_replicas=2)])
def test_pods_sum_to_the_arms_at_every_step(scenario):
    m = simulate(scenario, 5)
    assert len(m.metrics) == 2 * scenario.metric_pairs
    for metric in m.metrics.values():
        assert metric.pods is not None
        assert len(metric.pods.canary) == 2 and len(metric.pods.stable) == 10
        for arm in ("canary", "stable"):
            pods = getattr(metric.pods, arm).values()
            if metric.kind == "ratio":
                for field in ("total", "events"):
                    per_pod = np.array([getattr(p, field) for p in pods])
                    assert per_pod.shape == (len(pods), 30)
                    assert np.allclose(per_pod.sum(0), getattr(getattr(metric, arm), field))
            else:
                per_pod = np.array(list(pods))
                assert per_pod.shape == (len(pods), 30, len(metric.le))
                assert np.allclose(per_pod.sum(0), getattr(metric, arm))


def test_arm_level_scenarios_have_no_pods_and_production_knobs_need_pods():
    assert simulate(Scenario(steps=3), 1).metrics["error-rate"].pods is None
    with pytest.raises(ValueError, match="pod_error_sd"):
        Scenario(pod_error_sd=0.1)
    with pytest.raises(ValueError, match="scrape_seconds"):
        Scenario(canary_pods=1, stable_pods=1, lazy_error_series=True)
    with pytest.raises(ValueError, match="whole number of scrape intervals"):
        Scenario(canary_pods=1, stable_pods=1, scrape_seconds=25.0)


WINDOW = np.array([5.0, 20.0, 35.0, 50.0])  # 15 s scrapes at phase 5 s in the window (0, 60]
PRESENT = np.ones(4, bool)


@pytest.mark.parametrize(
    ("values", "exists", "expected"),
    [
        # a long-lived counter: 9 over the 45 s sampled, extrapolated 5 s back and 10 s on: 9 · 60/45
        ([1000.0, 1003.0, 1006.0, 1009.0], PRESENT, 12.0),
        # a counter born at 0 whose first sample is 0: no extrapolation before it, 9 · 55/45
        ([0.0, 3.0, 6.0, 9.0], PRESENT, 11.0),
        # zero point 45 · 2/8 = 11.25 s before the first sample: further than the edge, so 8 · 60/45
        ([2.0, 4.0, 7.0, 10.0], PRESENT, 32.0 / 3.0),
        # a 5xx series created between the 2nd and 3rd scrape: two samples 15 s apart; the start is
        # 35 s away (> 1.1 · 15), so at most 7.5 s, and the zero point is 15 · 1/4 = 3.75 s back; the end
        # is 10 s on: 4 · (15 + 3.75 + 10)/15
        ([0.0, 0.0, 1.0, 5.0], np.array([False, False, True, True]), 4.0 * 28.75 / 15.0),
        # a single sample: no result, the series drops out of sum()
        ([0.0, 0.0, 0.0, 3.0], np.array([False, False, False, True]), 0.0),
    ],
)
def test_increase_extrapolates_like_promql(values, exists, expected):
    assert float(promql_increase(WINDOW, np.array(values), exists, 0.0, 60.0)) == pytest.approx(expected)


def test_increase_far_from_the_window_start_extrapolates_half_an_interval():
    times, values = np.array([20.0, 35.0, 50.0]), np.array([100.0, 103.0, 106.0])
    assert float(promql_increase(times, values, np.ones(3, bool), 0.0, 60.0)) == pytest.approx(6.0 * 47.5 / 30.0)


def test_scraped_counts_are_fractional_and_young_5xx_series_lose_their_first_errors():
    scraped = Scenario(rps=220.0, canary_share=1 / 11, canary_pods=1, stable_pods=10, scrape_seconds=15.0,
                       error_rate=0.001)
    totals = np.asarray(simulate(scraped, 1).metrics["error-rate"].canary.total)
    assert np.any(totals % 1 > 1e-6)

    def first_minutes(scenario):
        return np.mean([simulate(scenario, seed).metrics["error-rate"].canary.events[:2] for seed in range(150)], 0)

    eager, lazy = first_minutes(scraped), first_minutes(replace(scraped, lazy_error_series=True))
    assert eager[0] == pytest.approx(1.2, rel=0.2)  # 20 canary rps × 0.1 % × 60 s
    assert lazy[0] < 0.7 * eager[0]  # the error that creates the series is never counted
    assert lazy[1] == pytest.approx(eager[1], rel=0.2)


def test_one_prometheus_keeps_buckets_cumulative_and_deduplicated_replicas_do_not():
    """Series of one target share their scrape times, so increase() keeps cumulative buckets monotone;
    series deduplicated from two HA replicas (Thanos, Mimir) have their own times: buckets dip by a
    fraction and, at 100 % errors, events exceed total."""
    single = replace(PODS, scrape_seconds=15.0)
    rows = np.asarray(simulate(single, 2).metrics["latency"].canary)
    assert np.all(np.diff(rows, axis=1) >= -1e-6)
    rows = np.asarray(simulate(replace(single, ha_replicas=2), 2).metrics["latency"].canary)
    assert np.diff(rows, axis=1).min() < -1e-6
    assert np.all(np.diff(rows, axis=1) > -0.02 * rows[:, -1:])
    errors = simulate(replace(single, ha_replicas=2, error_rate=1.0), 2).metrics["error-rate"].canary
    assert np.any(np.asarray(errors.events) > np.asarray(errors.total))


def test_pod_heterogeneity_is_recovered_from_many_pods():
    many = Scenario(rps=20_000.0, canary_share=0.0025, canary_pods=1, stable_pods=400, error_rate=0.02,
                    pod_error_sd=0.2, pod_latency_sd=0.1)
    m = simulate(many, 11)
    pods = m.metrics["error-rate"].pods.stable.values()
    rates = np.array([sum(p.events) / sum(p.total) for p in pods])
    assert np.std(np.log(rates)) == pytest.approx(0.2, abs=0.02)  # binomial noise adds ≈ 0.02 in quadrature
    histogram = m.metrics["latency"]
    j = histogram.le.index(0.1)  # the median: P(latency · e^v ≤ 0.1) = Φ(-v / 0.5)
    fast = np.array([np.sum(rows, 0)[j] / np.sum(rows, 0)[-1] for rows in histogram.pods.stable.values()])
    assert np.std(-0.5 * stats.norm.ppf(fast)) == pytest.approx(0.1, abs=0.015)


def test_cold_start_slows_new_pods_then_fades():
    cold = simulate(replace(PODS, cold_factor=0.5, cold_minutes=2.0), 3).metrics["latency"]
    j = cold.le.index(0.1)
    share_fast = np.asarray(cold.canary)[:, j] / np.asarray(cold.canary)[:, -1]
    stable_fast = np.asarray(cold.stable)[:, j] / np.asarray(cold.stable)[:, -1]
    assert share_fast[0] < stable_fast[0] - 0.1  # latency ×1.375 on average over minute 0
    assert share_fast[5:].mean() == pytest.approx(stable_fast[5:].mean(), abs=0.02)


def test_common_mode_spike_and_burstiness_overdisperse_pod_minutes():
    spiked = simulate(replace(PODS, error_spike_at=600.0, error_spike_seconds=20.0), 4).metrics["error-rate"]
    stable = np.asarray(spiked.stable.events)
    assert stable[10] > 3 * np.median(stable)  # ×10 errors for a third of minute 10, on every pod
    bursty = simulate(replace(PODS, burst_cv=0.5, steps=60), 4).metrics["error-rate"].pods.stable.values()
    events = np.array([p.events for p in bursty])
    dispersion = events.var(axis=1) / events.mean(axis=1)
    assert np.median(dispersion) > 1 + 0.5**2 * events.mean() * 0.6  # Poisson 1, plus cv² · mean


def test_a_production_run_takes_well_under_100_ms():
    scenario = replace(ALL_ON, rps=200.0)
    simulate(scenario, 0)
    times = []
    for seed in range(5):
        start = time.perf_counter()
        simulate(scenario, seed)
        times.append(time.perf_counter() - start)
    assert sorted(times)[2] < 0.1
