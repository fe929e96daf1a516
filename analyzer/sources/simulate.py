"""Event-level canary and stable traffic, aggregated per step exactly as Prometheus would store it.

Every request is drawn: arrivals are Poisson with a rate shared by both arms (optionally a
sinusoidal load wave), each request fails with the arm's error probability and gets a latency from
a lognormal or two-mode lognormal model. Per step and arm the simulator counts requests, errors
and, for each bucket bound, the requests with latency ≤ le (cumulative, +Inf = requests) — what
``increase(...[step])`` of a Prometheus counter and classic histogram would return with no scrape
jitter. A regression (error ratio, whole-distribution slowdown, tail-only slowdown) starts at a
chosen step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from analyzer.model import Measurement

#: Prometheus client libraries' DefBuckets.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Exponential buckets, factor 1.25 from 5 ms to about 8 s (ExponentialBuckets(0.005, 1.25, 34)).
FINE_BUCKETS: tuple[float, ...] = tuple(float(f"{0.005 * 1.25**i:.4g}") for i in range(34))


@dataclass(frozen=True)
class Latency:
    """A lognormal latency (median, sigma), optionally mixed with a slow mode of weight ``slow_weight``."""

    median: float = 0.1
    sigma: float = 0.5
    slow_weight: float = 0.0
    slow_median: float = 0.4
    slow_sigma: float = 0.4

    def sample(
        self,
        rng: np.random.Generator,
        n: int,
        scale: float = 1.0,
        slow_scale: float = 1.0,
        slow_weight: float | None = None,
        shift: float = 0.0,
    ) -> np.ndarray:
        """n latencies in seconds: ``scale`` multiplies everything, ``slow_scale`` only the slow mode,
        ``slow_weight`` replaces the slow mode's weight, ``shift`` is added to every request."""
        weight = self.slow_weight if slow_weight is None else slow_weight
        fast = rng.lognormal(math.log(self.median), self.sigma, n)
        if weight > 0:
            slow = rng.lognormal(math.log(self.slow_median * slow_scale), self.slow_sigma, n)
            fast = np.where(rng.random(n) < weight, slow, fast)
        result: np.ndarray = fast * scale + shift
        return result

    def cdf(
        self,
        x: float,
        scale: float = 1.0,
        slow_scale: float = 1.0,
        slow_weight: float | None = None,
        shift: float = 0.0,
    ) -> float:
        """P(latency ≤ x) under the same changes as :meth:`sample` (the oracle's view of the truth)."""
        weight = self.slow_weight if slow_weight is None else slow_weight
        y = (x - shift) / scale
        if y <= 0:
            return 0.0
        fast = float(stats.norm.cdf((math.log(y) - math.log(self.median)) / self.sigma))
        if weight <= 0:
            return fast
        slow = float(stats.norm.cdf((math.log(y) - math.log(self.slow_median * slow_scale)) / self.slow_sigma))
        return (1.0 - weight) * fast + weight * slow


BIMODAL = Latency(median=0.05, sigma=0.3, slow_weight=0.1, slow_median=0.4, slow_sigma=0.4)


@dataclass(frozen=True)
class Scenario:
    """A canary run. Rates are requests per second over both arms; regressions start at ``onset_step``."""

    steps: int = 30
    step_seconds: float = 60.0
    rps: float = 100.0
    canary_share: float = 0.1
    load_wave: float = 0.0  # amplitude of λ(t) = rps·(1 + wave·sin(2πt / 1 h)), shared by both arms
    error_rate: float = 0.01
    error_ratio: float = 1.0  # canary/stable error-rate ratio after onset
    latency: Latency = field(default_factory=Latency)
    latency_scale: float = 1.0  # canary whole-distribution slowdown after onset
    slow_mode_scale: float = 1.0  # canary tail-only slowdown after onset (two-mode latency)
    onset_step: int = 0
    latency_shift: float = 0.0  # seconds added to every canary request after onset
    slow_weight: float | None = None  # canary slow-mode weight after onset (two-mode latency)
    spike_start: int | None = None  # a traffic spike on both arms, ×spike_factor for spike_steps steps
    spike_steps: int = 5
    spike_factor: float = 3.0
    common_sigma: float = 0.0  # per-step noise on logit(error rate), shared by both arms (overdispersion)
    canary_sigma: float = 0.0  # per-step noise on logit(error rate), canary only
    burst_start: int | None = None  # a transient canary-only error burst, ×burst_factor for burst_steps steps
    burst_steps: int = 5
    burst_factor: float = 10.0
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    error_metric: str = "error-rate"
    latency_metric: str = "latency"


def _within(step: int, start: int | None, length: int) -> bool:
    return start is not None and start <= step < start + length


def _step_rate(scenario: Scenario, step: int) -> float:
    t = (step + 0.5) * scenario.step_seconds
    rate = scenario.rps * (1.0 + scenario.load_wave * math.sin(2.0 * math.pi * t / 3600.0))
    return rate * (scenario.spike_factor if _within(step, scenario.spike_start, scenario.spike_steps) else 1.0)


def _error_probability(
    scenario: Scenario, rng: np.random.Generator, is_canary: bool, step: int, common: float
) -> float:
    """The arm's error probability this step; noise is drawn only when asked, so seeds stay stable."""
    p = scenario.error_rate * (scenario.error_ratio if is_canary and step >= scenario.onset_step else 1.0)
    if is_canary and _within(step, scenario.burst_start, scenario.burst_steps):
        p *= scenario.burst_factor
    noise = common + (rng.normal(0.0, scenario.canary_sigma) if is_canary and scenario.canary_sigma > 0 else 0.0)
    p = min(p, 1.0)
    if noise and 0.0 < p < 1.0:
        p = 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + noise)))
    return p


def _buckets(latencies: np.ndarray, bounds: np.ndarray) -> list[float]:
    per_bound = np.searchsorted(np.sort(latencies), bounds, side="right")
    return [*map(float, per_bound), float(latencies.size)]


def simulate(scenario: Scenario, seed: int) -> Measurement:
    """One simulated canary run as a measurement (seeded, reproducible)."""
    rng = np.random.default_rng(seed)
    bounds = np.asarray(scenario.buckets, dtype=np.float64)
    arms: dict[str, dict[str, list[Any]]] = {
        a: {"total": [], "events": [], "buckets": []} for a in ("canary", "stable")
    }
    for step in range(scenario.steps):
        regressed = step >= scenario.onset_step
        expected = _step_rate(scenario, step) * scenario.step_seconds
        common = rng.normal(0.0, scenario.common_sigma) if scenario.common_sigma > 0 else 0.0
        for arm, share in (("canary", scenario.canary_share), ("stable", 1.0 - scenario.canary_share)):
            is_bad = arm == "canary" and regressed
            n = int(rng.poisson(expected * share))
            errors = int(rng.binomial(n, _error_probability(scenario, rng, arm == "canary", step, common)))
            latencies = scenario.latency.sample(
                rng,
                n,
                scale=scenario.latency_scale if is_bad else 1.0,
                slow_scale=scenario.slow_mode_scale if is_bad else 1.0,
                slow_weight=scenario.slow_weight if is_bad else None,
                shift=scenario.latency_shift if is_bad else 0.0,
            )
            arms[arm]["total"].append(float(n))
            arms[arm]["events"].append(float(errors))
            arms[arm]["buckets"].append(_buckets(latencies, bounds))
    return Measurement.model_validate(
        {
            "step_seconds": scenario.step_seconds,
            "metrics": {
                scenario.error_metric: {
                    "kind": "ratio",
                    "canary": {"total": arms["canary"]["total"], "events": arms["canary"]["events"]},
                    "stable": {"total": arms["stable"]["total"], "events": arms["stable"]["events"]},
                },
                scenario.latency_metric: {
                    "kind": "histogram",
                    "le": [*scenario.buckets, "+Inf"],
                    "canary": arms["canary"]["buckets"],
                    "stable": arms["stable"]["buckets"],
                },
            },
        }
    )
