"""A real Prometheus holding the series cAdvisor and kube-state-metrics export, next to the http counters.

``container_cpu_usage_seconds_total`` (and cAdvisor's pod-level ``container=""`` series of the same
pods, which no query may count again), ``container_memory_working_set_bytes`` and
``kube_pod_container_status_restarts_total``, backfilled by promtool for three canary runs: healthy,
1.5× the CPU on both canary pods, and one canary pod that restarts at step 12.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate
from tests.support.openmetrics import Deployment, _cumulative_samples, _labels, write_openmetrics
from tests.support.prometheus import backfill, prometheus

STEP, STEPS, SCRAPE = 60, 30, 15


@dataclass(frozen=True)
class Pods:
    """One canary run's resource series: CPU cores and memory per pod, and restart steps."""

    deployment: Deployment
    cpu: dict[str, float]  # cores, steady per pod (a small deterministic wobble per step is added)
    memory: dict[str, float]  # bytes
    restart_steps: dict[str, int]  # pod -> the step in which it restarts once

    def cpu_per_step(self, pod: str) -> np.ndarray:
        wobble = 1.0 + 0.02 * np.sin(np.arange(STEPS) + len(pod) + ord(pod[-1]))
        return self.cpu[pod] * wobble


def _resources(p: Pods) -> tuple[list[str], list[str], list[str]]:
    cpu, memory, restarts = [], [], []
    d = p.deployment
    for pod in [*d.pod_names("canary"), *d.pod_names("stable")]:
        labels = {"namespace": d.namespace, "pod": pod, "container": "app"}
        for ts, value in _cumulative_samples(p.cpu_per_step(pod)[:, None] * STEP, d.start, STEP, SCRAPE, None):
            cpu.append(f"container_cpu_usage_seconds_total{_labels(**labels)} {value[0]:.6f} {ts}")
        pod_level = {**labels, "container": ""}  # cAdvisor's cgroup of the whole pod: never to be counted again
        for ts, value in _cumulative_samples(p.cpu_per_step(pod)[:, None] * STEP, d.start, STEP, SCRAPE, None):
            cpu.append(f"container_cpu_usage_seconds_total{_labels(**pod_level)} {value[0]:.6f} {ts}")
        for ts in range(d.start, d.start + STEPS * STEP + 1, SCRAPE):
            memory.append(f"container_memory_working_set_bytes{_labels(**labels)} {p.memory[pod]:.1f} {ts}")
        restarted = np.zeros((STEPS, 1))
        if pod in p.restart_steps:
            restarted[p.restart_steps[pod], 0] = 1.0
        for ts, value in _cumulative_samples(restarted, d.start, STEP, SCRAPE, None):
            restarts.append(f"kube_pod_container_status_restarts_total{_labels(**labels)} {value[0]:.6f} {ts}")
    return cpu, memory, restarts


def _openmetrics(runs: list[Pods]) -> str:
    http = write_openmetrics([p.deployment for p in runs]).removesuffix("# EOF\n")
    cpu = ["# TYPE container_cpu_usage_seconds counter"]
    memory = ["# TYPE container_memory_working_set_bytes gauge"]
    restarts = ["# TYPE kube_pod_container_status_restarts counter"]
    for p in runs:
        c, m, r = _resources(p)
        cpu += c
        memory += m
        restarts += r
    return http + "\n".join([*cpu, *memory, *restarts, "# EOF", ""])


def resource_run(namespace: str, i: int, start: int, cpu_factor: float = 1.0, restart: int | None = None) -> Pods:
    shares = {"canary": (0.5, 0.5), "stable": (0.2,) * 5}
    scenario = Scenario(steps=STEPS, rps=200.0, canary_share=0.2, buckets=FINE_BUCKETS)
    d = Deployment(namespace, f"c{i}a{i}b", f"5{i}d{i}f", simulate(scenario, seed=40 + i), start,
                   pod_shares=shares, idle=None)
    canary, stable = d.pod_names("canary"), d.pod_names("stable")
    levels = dict(zip(canary, (0.300 * cpu_factor, 0.306 * cpu_factor), strict=True))
    levels |= dict(zip(stable, (0.297, 0.303, 0.300, 0.306, 0.294), strict=True))
    memory = {pod: 2.0e8 + 1.0e6 * k for k, pod in enumerate([*canary, *stable])}
    return Pods(d, levels, memory, {canary[0]: restart} if restart is not None else {})


@contextmanager
def resources_prometheus(workdir: Path) -> Iterator[tuple[str, dict[str, Pods]]]:
    """Prometheus over ``workdir`` with the three runs (namespaces healthy, cpu, restart); yields (url, runs)."""
    start = (int(time.time()) // 3600 - 6) * 3600
    runs = {
        "healthy": resource_run("healthy", 0, start),
        "cpu": resource_run("cpu", 1, start, cpu_factor=1.5),
        "restart": resource_run("restart", 2, start, restart=12),
    }
    backfill(_openmetrics(list(runs.values())), workdir / "data")
    with prometheus(workdir) as url:
        yield url, runs


