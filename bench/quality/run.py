"""Simulate each cell's canaries, judge them with every judge, and summarise per cell and judge."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize

from analyzer.model import HistogramMetric, Measurement, RatioMetric
from analyzer.model import Kind as MetricKind
from analyzer.sources.simulate import Latency, simulate
from bench.quality.grid import Cell, Kind
from bench.quality.judges import JUDGES
from bench.quality.msprt import Pair, msprt
from bench.quality.oracle import Stream, sprt

DESIGN_ERROR_RATIO = 2.0
DESIGN_LATENCY = {"scale": 1.2}


def true_quantile(latency: Latency, q: float = 0.95) -> float:
    return float(optimize.brentq(lambda x: latency.cdf(x) - q, 1e-6, 100.0, xtol=1e-9))


@dataclass(frozen=True)
class Record:
    cell: str
    kind: str
    seed: int
    judge: str
    fail: int | None  # first fail minute
    passed: int | None  # first pass minute (before any fail: a fail ends the run)
    exposure: float  # canary requests served from the onset to the fail (or the horizon)
    blame: str = ""  # the metrics that failed, "+"-joined (ours and kayenta)


def _split(m: Measurement, q95: float) -> tuple[Measurement, list[np.ndarray]]:
    """The judges' measurement without the oracle's extra bound, and the slow counts at it: canary
    slow, canary total, stable slow, stable total per minute (first histogram)."""
    data = m.model_dump(mode="json")
    latency = next(d for d in m.metrics.values() if isinstance(d, HistogramMetric))
    j = latency.le.index(q95)
    canary, stable = np.asarray(latency.canary), np.asarray(latency.stable)
    counts = [canary[:, -1] - canary[:, j], canary[:, -1], stable[:, -1] - stable[:, j], stable[:, -1]]

    def drop(rows: list[list[float]]) -> list[list[float]]:
        return [row[:j] + row[j + 1 :] for row in rows]

    for metric in data["metrics"].values():
        if metric["kind"] == "histogram":
            del metric["le"][j]
            metric["canary"], metric["stable"] = drop(metric["canary"]), drop(metric["stable"])
            for by_pod in (metric.get("pods") or {}).values():
                by_pod.update({pod: drop(rows) for pod, rows in by_pod.items()})
    return Measurement.model_validate(data), counts


def _arm_totals(m: Measurement) -> Measurement:
    """The measurement without its per-pod breakdowns (the arm totals are already their sums)."""
    return m.model_copy(update={"metrics": {
        name: d.model_copy(update={"pods": None}) if isinstance(d, RatioMetric | HistogramMetric) else d
        for name, d in m.metrics.items()
    }})


@dataclass(frozen=True)
class Canary:
    """One simulated canary as the judges see it, and the slow counts at the true stable p95 the references
    use: canary slow, canary total, stable slow, stable total per minute."""

    measurement: Measurement
    errors: RatioMetric
    slow: list[np.ndarray]

    def msprt_pairs(self) -> list[Pair]:
        """The mixture SPRT's two streams: errors, and requests slower than the true stable p95."""
        e = self.errors
        slow, total, stable_slow, stable_total = self.slow
        return [
            Pair.default(MetricKind.RATIO, (np.asarray(e.canary.events), np.asarray(e.canary.total)),
                         (np.asarray(e.stable.events), np.asarray(e.stable.total))),
            Pair.default(MetricKind.HISTOGRAM, (slow, total), (stable_slow, stable_total)),
        ]


def simulated(cell: Cell, seed: int, q95: float) -> Canary:
    """The cell's canary of ``seed``, simulated with the oracle's bound at ``q95`` (the true stable p95) and
    judged without it; on arm totals only when the cell says so."""
    scenario = replace(cell.scenario, buckets=tuple(sorted({*cell.scenario.buckets, q95})))
    m, slow = _split(simulate(scenario, seed), q95)
    if cell.arm_totals:
        m = _arm_totals(m)
    return Canary(m, next(d for d in m.metrics.values() if isinstance(d, RatioMetric)), slow)


def run_cell(cell: Cell, seeds: range) -> list[Record]:
    scenario = cell.scenario
    q95 = true_quantile(scenario.latency)
    p0 = scenario.error_rate
    p1_errors = p0 * (cell.error_ratio if cell.error_ratio > 1 else DESIGN_ERROR_RATIO)
    regressed_latency = cell.kind is Kind.AB and cell.latency_change
    p1_slow = 1.0 - scenario.latency.cdf(q95, **(cell.latency_change if regressed_latency else DESIGN_LATENCY))
    records = []
    for seed in seeds:
        canary = simulated(cell, seed, q95)
        canary_errors, canary_total = np.asarray(canary.errors.canary.events), np.asarray(canary.errors.canary.total)
        decisions = {name: judge(canary.measurement) for name, judge in JUDGES.items()}
        decisions["oracle"] = sprt([
            Stream(canary_errors, canary_total, p0, min(p1_errors, 0.999)),
            Stream(canary.slow[0], canary.slow[1], 0.05, p1_slow),
        ])
        decisions["msprt"] = msprt(canary.msprt_pairs())
        for name, d in decisions.items():
            end = d.fail or scenario.steps
            exposure = float(canary_total[cell.regression_start : end].sum())
            records.append(Record(cell.name, cell.kind.value, seed, name, d.fail, d.passed, exposure, d.blame))
    return records


@dataclass
class Summary:
    cell: str
    kind: str
    judge: str
    runs: int
    fail: float
    passed: float
    inconclusive: float
    fail_low: float  # 95 % Wilson interval of the fail rate
    fail_high: float
    ttd_median: float | None  # minutes after the onset; None = beyond the horizon (most runs never failed)
    ttd_p90: float | None
    exposure_median: float | None
    power_1500: float | None  # failed within the first 1,500 canary requests under the regression
    power_3000: float | None
    pass_median: float | None  # minutes from the start to the first pass; None = beyond the horizon
    pass_within: float  # share of runs that passed (before any fail) within the horizon
    blame: str  # how often each metric failed, e.g. "latency 3, error-rate 1"
    seeds: str


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _false_pass(r: Record, onset: int) -> bool:
    """A pass while the regression was on, before any fail: a step analysis would have promoted it."""
    return r.passed is not None and r.passed > onset and (r.fail is None or r.passed < r.fail)


def _within(records: list[Record], requests: float) -> float:
    return sum(r.fail is not None and r.exposure <= requests for r in records) / len(records)


def _median_minutes(values: list[float]) -> float | None:
    """The median of times where ``inf`` stands for "not within the horizon" (None when the median is)."""
    median = float(np.median(values))
    return median if math.isfinite(median) else None


def _blame(records: list[Record]) -> str:
    counts = Counter(name for r in records if r.blame for name in r.blame.split("+"))
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def summarise(cell: Cell, records: list[Record]) -> list[Summary]:
    """Rates per judge; times to detect and to pass count a run that never did as beyond the horizon (censored)."""
    onset = cell.regression_start
    out = []
    for judge in sorted({r.judge for r in records}):
        rs = [r for r in records if r.judge == judge]
        n = len(rs)
        fails = sum(r.fail is not None for r in rs)
        passes = sum(_false_pass(r, onset) if cell.kind is Kind.AB else r.passed is not None and r.fail is None
                     for r in rs)
        low, high = wilson(fails, n)
        ttd = np.array([max(r.fail - onset, 0) if r.fail is not None else np.inf for r in rs], dtype=float)
        p90 = float(np.percentile(ttd, 90, method="higher"))
        ttp = [float(r.passed) if r.passed is not None else math.inf for r in rs]
        out.append(
            Summary(
                cell=cell.name,
                kind=cell.kind.value,
                judge=judge,
                runs=n,
                fail=fails / n,
                passed=passes / n,
                inconclusive=sum(r.fail is None and r.passed is None for r in rs) / n,
                fail_low=low,
                fail_high=high,
                ttd_median=_median_minutes(list(ttd)),
                ttd_p90=p90 if math.isfinite(p90) else None,
                exposure_median=float(np.median([r.exposure for r in rs])) if cell.kind is Kind.AB else None,
                power_1500=_within(rs, 1500) if cell.kind is Kind.AB else None,
                power_3000=_within(rs, 3000) if cell.kind is Kind.AB else None,
                pass_median=_median_minutes(ttp),
                pass_within=sum(math.isfinite(t) for t in ttp) / n,
                blame=_blame(rs),
                seeds=f"{min(r.seed for r in rs)}-{max(r.seed for r in rs)}",
            )
        )
    return out
