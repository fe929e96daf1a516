"""The mixture SPRT in Wald form: the binomial world's anytime-valid reference judge.

Johari, Pekelis, Walsh (2017), "Peeking at A/B tests: why it matters, and what to do about it", KDD
(arXiv 1512.04922); Johari, Koomen, Pekelis, Walsh (2022), "Always valid inference", Oper. Res. 70.
Per metric, canary against stable on cumulative counts, with the Gaussian (Wald) approximation of the
log rate ratio θ̂ = log(p̂_c / p̂_s) and its delta-method variance V = (1 - p̂_c)/x_c + (1 - p̂_s)/x_s
(x = events, a half count added to each arm so that the first minutes are defined). With a normal
mixture N(θ0, τ²) over the effect, the mixture likelihood ratio against H0: θ = θ0 is

    Λ = sqrt(V / (V + τ²)) · exp(τ² (θ̂ - θ0)² / (2 V (V + τ²))),

a nonnegative martingale under H0 (for Gaussian estimates), so P(ever Λ ≥ 1/α) ≤ α at any number of
looks (Ville). It **fails** when Λ ≥ m/α with θ̂ > θ0 (one side of the two-sided mixture: still
valid), for m streams (Bonferroni, as the oracle splits α). It **passes** when every stream's
always-valid interval {θ0 : Λ(θ0) < 1/α_pass} lies below log(pass_ratio). The hypotheses are the
judge's own, read from the policy (the metric's fail_ratio and pass_ratio, prior_scale as τ, α_fail, α_pass),
and so is the data: the policy's warm-up steps are left out (1 for errors, 3 for latency by default),
so that the two differ only in method. Two streams, as the oracle's: errors, and requests slower than
the true stable p95 (a bound the oracle adds to the buckets). It assumes every request is an
independent trial: on production-shaped data it is a reference, not a safe judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzer.model import Kind, MetricPolicy, Policy, default_metric_policy
from bench.quality.judges import Decision

POLICY = Policy()


@dataclass(frozen=True)
class Pair:
    """One metric's per-minute counts on both arms (events out of trials) and the policy it is judged by."""

    canary_events: np.ndarray
    canary_trials: np.ndarray
    stable_events: np.ndarray
    stable_trials: np.ndarray
    metric: MetricPolicy

    @classmethod
    def default(cls, kind: Kind, canary: tuple[np.ndarray, np.ndarray], stable: tuple[np.ndarray, np.ndarray]) -> Pair:
        """(events, trials) per arm judged by the default policy for their kind, as ours judges a metric
        without a policy entry."""
        return cls(*canary, *stable, metric=default_metric_policy(kind))


def log_mixture_ratio(theta: np.ndarray, variance: np.ndarray, theta0: float, tau: float) -> np.ndarray:
    """log Λ of the normal mixture N(θ0, τ²) for an estimate θ̂ ~ N(θ, V), elementwise."""
    total = variance + tau**2
    value: np.ndarray = 0.5 * np.log(variance / total) + tau**2 * (theta - theta0) ** 2 / (2 * variance * total)
    return value


def upper_bound(theta: np.ndarray, variance: np.ndarray, alpha: float, tau: float) -> np.ndarray:
    """The always-valid upper bound: the largest θ0 with Λ(θ0) < 1/α."""
    total = variance + tau**2
    half = np.sqrt(2 * variance * total / tau**2 * (math.log(1 / alpha) + 0.5 * np.log(total / variance)))
    bound: np.ndarray = theta + half
    return bound


def _log_ratio(pair: Pair, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative θ̂ = log(p̂_c / p̂_s) and its delta-method variance after each minute, past the warm-up."""

    def counts(values: np.ndarray) -> np.ndarray:
        return np.cumsum(np.where(np.arange(values.size) < warmup, 0.0, values))

    xc, nc = counts(pair.canary_events) + 0.5, counts(pair.canary_trials) + 1.0
    xs, ns = counts(pair.stable_events) + 0.5, counts(pair.stable_trials) + 1.0
    pc, ps = np.minimum(xc / nc, 1.0), np.minimum(xs / ns, 1.0)
    return np.log(pc / ps), (1 - pc) / xc + (1 - ps) / xs + 1e-12


def msprt(pairs: list[Pair], policy: Policy = POLICY) -> Decision:
    """The first minute the mixture SPRT fails, and its first pass before that (a pass does not stop the watch)."""
    failing, passing = [], []
    for pair in pairs:
        metric = pair.metric
        theta, variance = _log_ratio(pair, policy.warmup_steps if metric.warmup_steps is None else metric.warmup_steps)
        theta0 = math.log(metric.fail_ratio)
        log_lr = log_mixture_ratio(theta, variance, theta0, policy.prior_scale)
        failing.append((theta > theta0) & (log_lr >= math.log(len(pairs) / policy.alpha_fail)))
        upper = upper_bound(theta, variance, policy.alpha_pass, policy.prior_scale)
        passing.append(upper < math.log(metric.pass_ratio))
    fails = np.flatnonzero(np.any(failing, axis=0))
    passes = np.flatnonzero(np.all(passing, axis=0))
    fail = int(fails[0]) + 1 if fails.size else None
    passed = int(passes[0]) + 1 if passes.size and (fail is None or passes[0] + 1 < fail) else None
    return Decision(fail, passed)
