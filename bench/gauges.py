"""Decision quality of the per-pod gauge and canary-only threshold judges, on simulated pods.

Each run is one canary judged at its last look: a fail at any look is a fail at the last one, since
the fail test is read at checkpoints whose data later looks do not change. Cells vary what the
statistics assume away or must survive: few pods, pod spread, autocorrelated minutes, common-mode
swings, heavy-tailed pods (Student t with 3 degrees of freedom on the log scale).

    python -m bench.gauges                 # every cell, 2,000 runs each (CPU time printed per cell)
    python -m bench.gauges --runs 300      # quicker
    python -m bench.gauges --speed         # CPU per judgment: http's two metrics, and with three gauges

Prints, per cell, the share of runs that failed and that passed with a 95 % Wilson upper bound on the
fail share, and the CPU seconds the cell took.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.judging import judge
from analyzer.model import Measurement, MetricPolicy, Policy, Verdict


@dataclass(frozen=True)
class GaugeCell:
    """Pods of both arms: level · pod effect · per-step noise (AR(1) within a pod) · a common swing."""

    name: str
    canary_pods: int
    stable_pods: int
    effect: float = 1.0  # the canary's multiplier: 1 is A/A
    pod_sd: float = 0.1  # sd of the pod effect on the log scale
    noise_sd: float = 0.1  # sd of each step's noise on the log scale
    ar: float = 0.5  # its autocorrelation from step to step
    common_sd: float = 0.1  # a swing shared by every pod at each step (traffic)
    steps: int = 30
    level: float = 0.3  # e.g. CPU cores
    tails: str = "normal"  # or "t3": heavy-tailed pod effects


def _ar_noise(rng: np.random.Generator, shape: tuple[int, int], sd: float, ar: float) -> np.ndarray:
    innovations = rng.normal(0.0, sd * math.sqrt(1.0 - ar**2), shape)
    noise = np.empty(shape)
    noise[:, 0] = rng.normal(0.0, sd, shape[0])
    for t in range(1, shape[1]):
        noise[:, t] = ar * noise[:, t - 1] + innovations[:, t]
    return noise


def _pod_effects(rng: np.random.Generator, n: int, cell: GaugeCell) -> np.ndarray:
    if cell.tails == "t3":
        return cell.pod_sd * rng.standard_t(3, n) / math.sqrt(3.0)  # unit variance before scaling
    return rng.normal(0.0, cell.pod_sd, n)


def simulate_gauge(cell: GaugeCell, rng: np.random.Generator) -> dict[str, Any]:
    """One gauge metric as the measurement carries it: a value per step for each pod of each arm."""
    common = rng.normal(0.0, cell.common_sd, cell.steps)
    arms: dict[str, Any] = {"kind": "gauge"}
    for arm, n, effect in (("canary", cell.canary_pods, cell.effect), ("stable", cell.stable_pods, 1.0)):
        logs = (
            math.log(cell.level * effect)
            + _pod_effects(rng, n, cell)[:, None]
            + _ar_noise(rng, (n, cell.steps), cell.noise_sd, cell.ar)
            + common[None, :]
        )
        arms[arm] = {f"{arm}-{i}": np.exp(row).tolist() for i, row in enumerate(logs)}
    return arms


@dataclass(frozen=True)
class ThresholdCell:
    """Canary pods' values with mean ``mean`` at every step (lognormal, AR(1) within a pod)."""

    name: str
    mean: float  # the expected value of every pod-step
    pods: int = 2
    limit: float = 0.5
    bound: float = 1.0
    noise_sd: float = 0.3
    ar: float = 0.0
    steps: int = 30


def simulate_threshold(cell: ThresholdCell, rng: np.random.Generator) -> dict[str, Any]:
    logs = _ar_noise(rng, (cell.pods, cell.steps), cell.noise_sd, cell.ar)
    values = cell.mean * np.exp(logs - cell.noise_sd**2 / 2.0)  # mean exactly cell.mean
    return {"kind": "gauge", "canary": {f"canary-{i}": row.tolist() for i, row in enumerate(values)}}


GAUGE_POLICY = Policy(metrics={"cpu": MetricPolicy(kind="gauge", fail_ratio=1.2, pass_ratio=1.3)})


def threshold_policy(cell: ThresholdCell) -> Policy:
    return Policy(metrics={"p99": MetricPolicy(kind="threshold", limit=cell.limit, bound=cell.bound)})


def gauge_cells() -> list[GaugeCell]:
    """A/A cells over the pod counts the judge must stay valid at, then regressions."""
    aa = [
        GaugeCell(f"A/A {c}+{s} pods", c, s)
        for c, s in ((1, 2), (1, 5), (2, 2), (2, 5), (2, 10), (3, 3), (3, 10))
    ]
    aa += [
        GaugeCell("A/A 2+5, pod sd 0.3", 2, 5, pod_sd=0.3),
        GaugeCell("A/A 2+5, no pod term, ar 0.9", 2, 5, pod_sd=0.0, ar=0.9),
        GaugeCell("A/A 1+5, heavy-tailed pods", 1, 5, tails="t3"),
        GaugeCell("A/A 2+10, heavy-tailed pods", 2, 10, tails="t3"),
        GaugeCell("A/A 2+5 at the margin (x1.2)", 2, 5, effect=1.2),
    ]
    power = [
        GaugeCell(f"x1.5, 2+{s} pods, pod sd {sd:g}", 2, s, effect=1.5, pod_sd=sd)
        for s in (3, 8)
        for sd in (0.02, 0.05, 0.1, 0.2)
    ]
    return aa + power + [GaugeCell("x1.5, 1+2 pods", 1, 2, effect=1.5), GaugeCell("x2, 2+8 pods", 2, 8, effect=2.0)]


def threshold_cells() -> list[ThresholdCell]:
    return [
        ThresholdCell("at the limit", mean=0.5),
        ThresholdCell("at the limit, ar 0.5", mean=0.5, ar=0.5),
        ThresholdCell("at the limit, ar 0.8", mean=0.5, ar=0.8),
        ThresholdCell("80 % of the limit", mean=0.4),
        ThresholdCell("80 % of the limit, ar 0.5", mean=0.4, ar=0.5),
        ThresholdCell("50 % of the limit", mean=0.25),
        ThresholdCell("120 % of the limit", mean=0.6),
        ThresholdCell("120 % of the limit, ar 0.5", mean=0.6, ar=0.5),
        ThresholdCell("200 % of the limit", mean=0.8),
    ]


def wilson_upper(hits: int, n: int, z: float = 1.96) -> float:
    """The 95 % Wilson score upper bound of a share."""
    if n == 0:
        return 1.0
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


@dataclass(frozen=True)
class Outcome:
    name: str
    runs: int
    fails: int
    passes: int
    cpu_seconds: float

    def line(self) -> str:
        upper = wilson_upper(self.fails, self.runs)
        return (
            f"{self.name:<34} fail {self.fails / self.runs:7.2%} (95 % upper {upper:6.2%})"
            f"  pass {self.passes / self.runs:7.2%}  {self.cpu_seconds:6.2f} s CPU"
        )


def run_cell(name: str, metric: str, policy: Policy, make: Any, runs: int, seed: int) -> Outcome:
    """``runs`` judgments of simulated canaries (``make(rng)`` builds one metric), counted by verdict."""
    rng = np.random.default_rng(seed)
    started = time.process_time()
    verdicts = [
        judge(Measurement.model_validate({"metrics": {metric: make(rng)}}), policy).verdict for _ in range(runs)
    ]
    return Outcome(
        name, runs, verdicts.count(Verdict.FAIL), verdicts.count(Verdict.PASS), time.process_time() - started
    )


def run_gauges(cells: Iterable[GaugeCell], runs: int, seed: int = 17) -> list[Outcome]:
    return [
        run_cell(c.name, "cpu", GAUGE_POLICY, lambda rng, c=c: simulate_gauge(c, rng), runs, seed + i)
        for i, c in enumerate(cells)
    ]


def run_thresholds(cells: Iterable[ThresholdCell], runs: int, seed: int = 29) -> list[Outcome]:
    return [
        run_cell(c.name, "p99", threshold_policy(c), lambda rng, c=c: simulate_threshold(c, rng), runs, seed + i)
        for i, c in enumerate(cells)
    ]


def speed(rounds: int = 5, judgments: int = 100) -> list[str]:
    """CPU per judgment, side by side: a 30-step look of http's two metrics, and of http-resources' five."""
    from analyzer.config import load_query_profile
    from analyzer.sources.simulate import Scenario, simulate

    base = simulate(Scenario(rps=50.0, steps=30), 1)
    data = base.model_dump(mode="json")
    rng = np.random.default_rng(1)
    data["metrics"] |= {
        "cpu": simulate_gauge(GaugeCell("cpu", 2, 5), rng),
        "memory": simulate_gauge(GaugeCell("memory", 2, 5), rng),
        "restarts": simulate_threshold(ThresholdCell("restarts", mean=0.0, pods=2), rng),
    }
    looks = {
        "http (error-rate, latency)": base,
        "http-resources (+ cpu, memory, restarts)": Measurement.model_validate(data),
    }
    policy = load_query_profile("http-resources").policy
    times: dict[str, list[float]] = {name: [] for name in looks}
    for _ in range(rounds):  # interleaved, so that the machine's noise falls on both alike
        for name, measurement in looks.items():
            started = time.process_time()
            for _ in range(judgments):
                judge(measurement, policy)
            times[name].append((time.process_time() - started) / judgments * 1000)
    return [f"{name:<42} {float(np.median(t)):.2f} ms CPU per judgment (median of {rounds})"
            for name, t in times.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--speed", action="store_true", help="time judgments instead")
    args = parser.parse_args(argv)
    if args.speed:
        print("\n".join(speed()))
        return
    print(f"gauge: canary pods against stable pods (fail_ratio 1.2, pass_ratio 1.3, alpha_fail 0.01), {args.runs} runs")
    for outcome in run_gauges(gauge_cells(), args.runs):
        print("  " + outcome.line())
    print(f"threshold: canary-only, limit 0.5, bound 1, 2 pods, lognormal sd 0.3, {args.runs} runs")
    for outcome in run_thresholds(threshold_cells(), args.runs):
        print("  " + outcome.line())
    print("(cells named A/A or 'at the limit' and below must fail at most 1 %; 30 steps of 60 s each)")


if __name__ == "__main__":
    main()


__all__ = ["GaugeCell", "ThresholdCell", "simulate_gauge", "simulate_threshold", "wilson_upper"]
