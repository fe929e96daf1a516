"""Canary and stable traffic, aggregated per step as Prometheus would store it, optionally per pod.

Two worlds, chosen by :class:`Scenario`:

* **Arm level** (``canary_pods = 0``, the default): every request is drawn. Arrivals are Poisson with a
  rate shared by both arms (optionally a sinusoidal load wave), each request fails with the arm's
  error probability and gets a latency from a lognormal or two-mode lognormal model. Per step and
  arm: requests, errors and cumulative bucket counts (+Inf = requests), exactly what
  ``increase(...[step])`` would return with no scrape artefacts: the binomial world.
* **Production shape** (``canary_pods`` and ``stable_pods`` ≥ 1): traffic is spread over pods, and
  the things that make production counts overdispersed can be switched on one by one — pods that
  differ (a persistent error-rate factor exp(u) and latency factor exp(v) per pod, u, v normal),
  uneven load balancing, per-pod-minute burstiness (gamma factors with a given cv), a canary cold
  start, a common-mode error spike of a few seconds, and Prometheus itself: 15 s scrapes at each
  pod's own phase, ``increase()`` extrapolated per series (:mod:`analyzer.sources.increase`),
  lazily created 5xx series, and HA-pair deduplication. The measurement then carries ``pods``. Counts become
  fractional and young 5xx series lose their first errors; buckets stay cumulative, as all series of
  one target share their scrape times — only series deduplicated from two replicas dip (and events
  pass total at ~100 % errors).

Per-pod counts are drawn per interval between scrapes: requests in each latency bucket are
independent Poisson counts (the exact split of a Poisson total), errors binomial among them, with
rates integrated second by second. A regression (error ratio, whole-distribution slowdown,
tail-only slowdown, added latency) starts at a chosen step in both worlds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import special

from analyzer.model import Measurement
from analyzer.sources.increase import promql_increase

#: Prometheus client libraries' DefBuckets.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Exponential buckets, factor 1.25 from 5 ms to about 8 s (ExponentialBuckets(0.005, 1.25, 34)).
FINE_BUCKETS: tuple[float, ...] = tuple(float(f"{0.005 * 1.25**i:.4g}") for i in range(34))
#: What an old (stable) pod's counters already hold when the run starts: far from zero, so that
#: ``increase()`` never clamps their extrapolation at zero, as for any long-lived series.
OLD_COUNTER = 1e6
ARMS = ("canary", "stable")


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

    def cdfs(
        self,
        x: np.ndarray,
        scale: np.ndarray | float = 1.0,
        slow_scale: float = 1.0,
        slow_weight: float | None = None,
        shift: float = 0.0,
    ) -> np.ndarray:
        """P(latency ≤ x) under the same changes as :meth:`sample`, elementwise (x and scale broadcast)."""
        weight = self.slow_weight if slow_weight is None else slow_weight
        y = (np.asarray(x, dtype=np.float64) - shift) / scale
        with np.errstate(divide="ignore"):
            log_y = np.log(np.maximum(y, 0.0))  # -inf where y ≤ 0: probability 0
        fast: np.ndarray = special.ndtr((log_y - math.log(self.median)) / self.sigma)
        if weight <= 0:
            return fast
        slow = special.ndtr((log_y - math.log(self.slow_median * slow_scale)) / self.slow_sigma)
        mixed: np.ndarray = (1.0 - weight) * fast + weight * slow
        return mixed

    def cdf(
        self,
        x: float,
        scale: float = 1.0,
        slow_scale: float = 1.0,
        slow_weight: float | None = None,
        shift: float = 0.0,
    ) -> float:
        """P(latency ≤ x) at one point (the oracle's view of the truth)."""
        return float(self.cdfs(np.asarray(x), scale, slow_scale, slow_weight, shift))


BIMODAL = Latency(median=0.05, sigma=0.3, slow_weight=0.1, slow_median=0.4, slow_sigma=0.4)


@dataclass(frozen=True)
class Scenario:
    """A canary run. Rates are requests per second over both arms; regressions start at ``onset_step``.

    The fields from ``canary_pods`` on shape production (see the module docstring); each is off by
    default and needs pods, so that arm-level scenarios and their seeds stay as they were.
    """

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
    metric_pairs: int = 1  # independent endpoints, each an error ratio and a latency histogram (-2, -3 … names)
    # --- production shape: every field below needs canary_pods and stable_pods ≥ 1
    canary_pods: int = 0  # 0 = arm level (binomial world)
    stable_pods: int = 0
    pod_traffic_sd: float = 0.0  # log-sd of the pods' traffic weights within an arm (uneven load balancing)
    pod_error_sd: float = 0.0  # log-sd of each pod's persistent error-rate factor exp(u)
    pod_latency_sd: float = 0.0  # log-sd of each pod's persistent latency factor exp(v)
    burst_cv: float = 0.0  # cv of a gamma factor on each pod-minute's error rate
    burst_requests: bool = False  # …and an independent one on its request rate
    cold_factor: float = 0.0  # canary latency ×(1 + cold_factor) at start, decaying linearly to ×1
    cold_error_factor: float = 0.0  # canary error rate ×(1 + cold_error_factor), decaying the same way
    cold_minutes: float = 2.0
    error_spike_at: float | None = None  # seconds: every pod's error rate ×error_spike_factor (common mode)
    error_spike_seconds: float = 20.0
    error_spike_factor: float = 10.0
    scrape_seconds: float | None = None  # emulate scrapes at each pod's phase and increase() per series
    lazy_error_series: bool = False  # a canary pod's 5xx series exists from its first error on
    ha_replicas: int = 1  # Prometheus replicas deduplicated per series (Thanos, Mimir): 2 skews series

    def __post_init__(self) -> None:
        names = [f.name for f in fields(self)]
        changed = [f.name for f in fields(self)[names.index("pod_traffic_sd") :] if getattr(self, f.name) != f.default]
        if self.canary_pods < 0 or self.stable_pods < 0 or (self.canary_pods == 0) != (self.stable_pods == 0):
            raise ValueError("canary_pods and stable_pods are both 0 (arm level) or both at least 1")
        if self.canary_pods == 0 and changed:
            raise ValueError(f"{', '.join(changed)} need pods: set canary_pods and stable_pods")
        if self.canary_pods and self.step_seconds != int(self.step_seconds):
            raise ValueError("with pods, step_seconds must be a whole number of seconds")
        if self.scrape_seconds is None and (self.lazy_error_series or self.ha_replicas != 1):
            raise ValueError("lazy_error_series and ha_replicas emulate scrapes: set scrape_seconds")
        if self.scrape_seconds is not None and (self.step_seconds / self.scrape_seconds) % 1 != 0:
            raise ValueError("step_seconds must be a whole number of scrape intervals")

    @property
    def regressed_latency(self) -> bool:
        """True when the canary's latency changes at the onset."""
        return (self.latency_scale, self.slow_mode_scale, self.latency_shift, self.slow_weight) != (1.0, 1.0, 0.0, None)


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


def _arm_level(scenario: Scenario, rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    """One endpoint in the binomial world: its ratio and histogram metrics."""
    bounds = np.asarray(scenario.buckets, dtype=np.float64)
    arms: dict[str, dict[str, list[Any]]] = {a: {"total": [], "events": [], "buckets": []} for a in ARMS}
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
    ratio = {"kind": "ratio", **{a: {"total": v["total"], "events": v["events"]} for a, v in arms.items()}}
    return ratio, {"kind": "histogram", "le": [*scenario.buckets, "+Inf"], **{a: v["buckets"] for a, v in arms.items()}}


@dataclass(frozen=True)
class _Pods:
    """Pod-level draws, shared by every endpoint of a run (a pod is slow or error-prone for all of them)."""

    canary: np.ndarray  # (P,) bool: canary pods first
    share: np.ndarray  # (P,) each pod's share of all traffic
    error: np.ndarray  # (P,) persistent error-rate factor exp(u)
    latency: np.ndarray  # (P,) persistent latency factor exp(v)
    phases: np.ndarray  # (P, replicas) first scrape after 0, in (0, scrape_seconds); (P, 0) without scrapes
    names: list[str]


def _draw_pods(s: Scenario, rng: np.random.Generator) -> _Pods:
    """Every draw is made whatever its sd, so that cells differing in one sd share their other draws."""
    canary = np.r_[np.ones(s.canary_pods, bool), np.zeros(s.stable_pods, bool)]
    weight = np.exp(rng.normal(0.0, s.pod_traffic_sd, canary.size))
    arm_share = np.where(canary, s.canary_share, 1.0 - s.canary_share)
    share = arm_share * weight / np.where(canary, weight[canary].sum(), weight[~canary].sum())
    error = np.exp(rng.normal(0.0, s.pod_error_sd, canary.size))
    latency = np.exp(rng.normal(0.0, s.pod_latency_sd, canary.size))
    scrape = s.scrape_seconds or 0.0
    phases = rng.uniform(0.0, scrape, (canary.size, s.ha_replicas if scrape else 0))
    names = [f"canary-{i}" for i in range(s.canary_pods)] + [f"stable-{i}" for i in range(s.stable_pods)]
    return _Pods(canary, share, error, latency, np.maximum(phases, 1e-3), names)


def _cold(s: Scenario, t: np.ndarray, factor: float) -> np.ndarray:
    """1 + factor at the canary's start, decaying linearly to 1 over ``cold_minutes``."""
    decay: np.ndarray = 1.0 + factor * np.clip(1.0 - t / (60.0 * s.cold_minutes), 0.0, 1.0)
    return decay


def _cumulative(s: Scenario, rng: np.random.Generator, pods: _Pods) -> tuple[np.ndarray, np.ndarray]:
    """Expected requests and errors per pod from 0 to every whole second, (P, T + 1) each."""
    seconds = int(s.steps * s.step_seconds)
    t = np.arange(seconds) + 0.5
    minute = (t // s.step_seconds).astype(int)
    common = rng.normal(0.0, s.common_sigma, s.steps) if s.common_sigma > 0 else np.zeros(s.steps)
    p_arm = np.array([[_error_probability(s, rng, c, k, common[k]) for k in range(s.steps)] for c in (True, False)])
    gamma_shape = 1.0 / s.burst_cv**2 if s.burst_cv > 0 else math.inf

    def bursts(on: bool) -> np.ndarray:
        shape = (pods.canary.size, s.steps)
        return rng.gamma(gamma_shape, 1.0 / gamma_shape, shape) if on and s.burst_cv > 0 else np.ones(shape)

    requests = np.array([_step_rate(s, k) for k in range(s.steps)])[minute] * pods.share[:, None]
    requests = requests * bursts(s.burst_requests)[:, minute]
    errors = p_arm[np.where(pods.canary, 0, 1)][:, minute] * pods.error[:, None] * bursts(True)[:, minute]
    errors = errors * np.where(pods.canary[:, None], _cold(s, t, s.cold_error_factor), 1.0)
    if s.error_spike_at is not None:
        errors = errors * np.where((t >= s.error_spike_at) & (t < s.error_spike_at + s.error_spike_seconds),
                                   s.error_spike_factor, 1.0)
    zero = np.zeros((pods.canary.size, 1))
    return np.hstack([zero, requests.cumsum(1)]), np.hstack([zero, (requests * np.minimum(errors, 1.0)).cumsum(1)])


def _at(cumulative: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A per-second cumulative curve at fractional times (exact for rates constant within a second)."""
    i = np.minimum(t.astype(int), cumulative.shape[1] - 2)
    low = np.take_along_axis(cumulative, i, 1)
    value: np.ndarray = low + (t - i) * (np.take_along_axis(cumulative, i + 1, 1) - low)
    return value


def _interval_counts(s: Scenario, rng: np.random.Generator, pods: _Pods, edges: np.ndarray) -> np.ndarray:
    """Per pod and interval between ``edges``: errors, then the cumulative bucket counts, (P, I, 1 + B + 1)."""
    requests, errors = (np.diff(_at(c, edges), axis=1) for c in _cumulative(s, rng, pods))
    middle = (edges[:, :-1] + edges[:, 1:]) / 2
    scale = pods.latency[:, None] * np.where(pods.canary[:, None], _cold(s, middle, s.cold_factor), 1.0)
    bounds = np.asarray(s.buckets, dtype=np.float64)
    below = s.latency.cdfs(bounds, scale[..., None])
    if s.regressed_latency:
        regressed = pods.canary[:, None] & (middle // s.step_seconds >= s.onset_step)
        slower = s.latency.cdfs(bounds, scale[..., None] * s.latency_scale, s.slow_mode_scale, s.slow_weight,
                                s.latency_shift)
        below = np.where(regressed[..., None], slower, below)
    per_bucket = rng.poisson(requests[..., None] * np.clip(np.diff(below, prepend=0.0, append=1.0, axis=-1), 0, 1))
    n = per_bucket.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_error = np.clip(np.where(requests > 0, errors / requests, 0.0), 0.0, 1.0)
    failed = rng.binomial(n, p_error)
    counts: np.ndarray = np.concatenate([failed[..., None], per_bucket.cumsum(-1)], axis=-1).astype(np.float64)
    return counts


def _scraped(s: Scenario, rng: np.random.Generator, pods: _Pods) -> np.ndarray:
    """increase() per pod, series and step from counters scraped at each pod's phase, (P, S, steps)."""
    assert s.scrape_seconds is not None
    per_window = int(s.step_seconds / s.scrape_seconds)
    samples = s.steps * per_window
    replica_times = pods.phases[:, :, None] + s.scrape_seconds * np.arange(samples)  # (P, R, J)
    flat = replica_times.reshape(pods.canary.size, -1)
    union = np.sort(flat, axis=1)
    rank = np.argsort(np.argsort(flat, axis=1, kind="stable"), axis=1, kind="stable").reshape(replica_times.shape)
    counters = np.cumsum(_interval_counts(s, rng, pods, np.hstack([np.zeros((flat.shape[0], 1)), union])), axis=1)
    counters = counters.transpose(0, 2, 1)  # (P, S, L)
    replica = rng.integers(0, s.ha_replicas, counters.shape[:2])
    index = rank[np.arange(counters.shape[0])[:, None], replica]  # (P, S, J): each series' samples in the union
    values = np.take_along_axis(counters, index, axis=2)
    times = np.take_along_axis(np.broadcast_to(union[:, None, :], counters.shape), index, axis=2)
    exists = np.ones(values.shape, bool)
    if s.lazy_error_series:
        exists[:, 0] = ~pods.canary[:, None] | (values[:, 0] >= 1)
    values = values + np.where(pods.canary, 0.0, OLD_COUNTER)[:, None, None]
    shape = (*values.shape[:2], s.steps, per_window)
    start = s.step_seconds * np.arange(s.steps)
    return promql_increase(times.reshape(shape), values.reshape(shape), exists.reshape(shape), start,
                           start + s.step_seconds)


def _production(s: Scenario, rng: np.random.Generator, pods: _Pods) -> tuple[dict[str, Any], dict[str, Any]]:
    """One endpoint at production shape: its ratio and histogram metrics, with ``pods``."""
    if s.scrape_seconds is None:
        edges = np.broadcast_to(s.step_seconds * np.arange(s.steps + 1.0), (pods.canary.size, s.steps + 1))
        series = _interval_counts(s, rng, pods, edges).transpose(0, 2, 1)
    else:
        series = _scraped(s, rng, pods)
    events, rows = series[:, 0], series[:, 1:].transpose(0, 2, 1)  # (P, steps), (P, steps, B + 1)
    names = pods.names
    ratio: dict[str, Any] = {"kind": "ratio", "pods": {}}
    histogram: dict[str, Any] = {"kind": "histogram", "le": [*s.buckets, "+Inf"], "pods": {}}
    for arm, mask in (("canary", pods.canary), ("stable", ~pods.canary)):
        chosen = np.flatnonzero(mask)
        ratio[arm] = {"total": rows[mask, :, -1].sum(0).tolist(), "events": events[mask].sum(0).tolist()}
        histogram[arm] = rows[mask].sum(0).tolist()
        ratio["pods"][arm] = {names[p]: {"total": rows[p, :, -1].tolist(), "events": events[p].tolist()}
                              for p in chosen}
        histogram["pods"][arm] = {names[p]: rows[p].tolist() for p in chosen}
    return ratio, histogram


def simulate(scenario: Scenario, seed: int) -> Measurement:
    """One simulated canary run as a measurement (seeded, reproducible)."""
    rng = np.random.default_rng(seed)
    pods = _draw_pods(scenario, rng) if scenario.canary_pods else None
    metrics: dict[str, Any] = {}
    for pair in range(scenario.metric_pairs):
        suffix = f"-{pair + 1}" if pair else ""
        ratio, histogram = _arm_level(scenario, rng) if pods is None else _production(scenario, rng, pods)
        metrics[scenario.error_metric + suffix] = ratio
        metrics[scenario.latency_metric + suffix] = histogram
    return Measurement.model_validate({"step_seconds": scenario.step_seconds, "metrics": metrics})
