"""The grid of canaries (research-statistics.md §6.2): what each cell simulates and what the truth is.

Two worlds (``analyzer/sources/simulate.py``): arm-level cells (every request an independent trial,
the binomial world the oracle and the mixture SPRT are references for) and production-shape cells
(requests over pods that differ, bursty pod-minutes, 15 s scrapes with PromQL's extrapolation, a
canary cold start). ``quick()`` samples both, ``full()`` spans both, ``acceptance()`` is exactly the
cells issue 11's acceptance is measured on.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from analyzer.sources.simulate import BIMODAL, DEFAULT_BUCKETS, FINE_BUCKETS, Latency, Scenario


class Kind(StrEnum):
    AA = "A/A"  # nothing changes: any fail is a false fail
    AB = "A/B"  # a regression: fail is right, pass is a false pass
    IMPROVEMENT = "improvement"  # the canary is better: a fail is a wrongful abort


@dataclass(frozen=True)
class Cell:
    name: str
    kind: Kind
    scenario: Scenario
    # The truth the oracle knows: canary/stable error ratio and the canary's latency change.
    error_ratio: float = 1.0
    latency_change: dict[str, float] = field(default_factory=dict)
    overdispersed: bool = False  # canary-only overdispersion: listed, but the A/A target does not apply
    slo_breach: bool = False  # both arms' p95 is above the default 250 ms SLO: failing is the policy, listed apart
    starved: bool = False  # too little canary traffic to show anything: it must never pass
    healthy_target: bool = False  # the acceptance's healthy canary: it should pass within the horizon
    arm_totals: bool = False  # judged on the arm totals only: the per-pod breakdown is dropped before judging

    @property
    def canary_rps(self) -> float:
        return self.scenario.rps * self.scenario.canary_share

    @property
    def binomial(self) -> bool:
        """An arm-level cell: no pods, every request an independent trial."""
        return self.scenario.canary_pods == 0

    @property
    def independent_requests(self) -> bool:
        """Every request an independent trial: no per-step overdispersion at arm level, and identical pods
        without bursts, cold start or scrapes (how the data is observed — ``arm_totals`` — is apart)."""
        s = self.scenario
        if s.common_sigma or s.canary_sigma:
            return False
        return self.binomial or not (s.pod_traffic_sd or s.pod_error_sd or s.pod_latency_sd or s.burst_cv
                                     or s.cold_factor or s.cold_error_factor or s.error_spike_at
                                     or s.scrape_seconds)

    @property
    def regression_start(self) -> int:
        """The first minute (0-based) at which the canary is worse: the onset, or a transient burst."""
        burst = self.scenario.burst_start
        return burst if burst is not None and self.kind is Kind.AB else self.scenario.onset_step


BASE = Scenario(steps=30, rps=200.0, canary_share=0.1, error_rate=0.01, latency=Latency(0.1, 0.5), buckets=FINE_BUCKETS)


def _cell(name: str, kind: Kind, error_ratio: float = 1.0, overdispersed: bool = False,
          latency_change: dict[str, float] | None = None, flags: dict[str, bool] | None = None,
          **changes: object) -> Cell:
    """A cell around BASE; bimodal latency (p95 0.40 s) is flagged as breaching the default SLO."""
    change = dict(latency_change or {})
    scenario_changes: dict[str, object] = dict(changes)
    scenario_changes.setdefault("error_ratio", error_ratio)
    for key, scenario_key in (("scale", "latency_scale"), ("slow_scale", "slow_mode_scale"),
                              ("shift", "latency_shift"), ("slow_weight", "slow_weight")):
        if key in change:
            scenario_changes[scenario_key] = change[key]
    scenario = replace(BASE, **scenario_changes)  # type: ignore[arg-type]
    return Cell(name, kind, scenario, error_ratio, change, overdispersed, slo_breach=scenario.latency is BIMODAL,
                **(flags or {}))


def _traffic(rps: float, share: float) -> str:
    return f"{rps:g} rps, {share:.0%} canary"


#: 15 s scrapes at each pod's phase, increase() per series as PromQL computes it, lazily created 5xx series.
SCRAPED: dict[str, Any] = {"scrape_seconds": 15.0, "lazy_error_series": True}
#: Production all at once, each knob at a value seen in practice (the "realistic mix"): pod log-sd 0.2 on
#: errors and 0.05 on latency, uneven load balancing (traffic log-sd 0.1), bursty pod-minutes (cv 0.3 on
#: errors and on requests), scraped as above, and a canary cold start (latency ×1.15 decaying over 2 min).
REALISTIC: dict[str, Any] = {**SCRAPED, "pod_error_sd": 0.2, "pod_latency_sd": 0.05, "pod_traffic_sd": 0.1,
                                "burst_cv": 0.3, "burst_requests": True, "cold_factor": 0.15}
MIX = "realistic mix, 2+10 pods, 100 canary rps"
HEALTHY = "healthy canary: 2+10 pods, 20 canary rps, p0 1 %, pod sd 0.1 / latency 0.05, scraped, default buckets"
STABLE_PODS = 10


def _pods(name: str, kind: Kind, canary_rps: float, canary_pods: int = 2, error_ratio: float = 1.0,
          latency_change: dict[str, float] | None = None, flags: dict[str, bool] | None = None,
          **changes: object) -> Cell:
    """A production-shape cell: new canary pods against 10 warm stable pods, every pod with the same
    expected load (Argo without traffic routing: the canary's weight is its share of the replicas),
    default buckets, p0 1 %."""
    share = canary_pods / (canary_pods + STABLE_PODS)
    scenario: dict[str, Any] = {"buckets": DEFAULT_BUCKETS, **changes}
    return _cell(name, kind, error_ratio, latency_change=latency_change, flags=flags, rps=canary_rps / share,
                 canary_share=share, canary_pods=canary_pods, stable_pods=STABLE_PODS, **scenario)


def pod_grid() -> list[Cell]:
    """A/A with pods that differ: log-sd 0.1-0.3 on each pod's error rate and on its latency, 1-3 canary pods."""
    return [
        _pods(f"A/A pods {pods}+10, pod sd {sd:g}, {rps:g} canary rps", Kind.AA, rps, pods, pod_error_sd=sd,
              pod_latency_sd=sd)
        for sd, pods, rps in itertools.product((0.1, 0.2, 0.3), (1, 2, 3), (2.0, 20.0, 200.0))
    ]


def production() -> list[Cell]:
    """Production shape one effect at a time, then all at once: A/A, regressions, an improvement, a starved canary."""
    return [
        _pods("A/A bursts cv 0.5 (errors and requests), 1+10 pods, 200 canary rps", Kind.AA, 200.0, 1, burst_cv=0.5,
              burst_requests=True),
        _pods("A/A 20 s common-mode error spike ×10 at 10 min, scraped, 1+10 pods, 200 canary rps", Kind.AA, 200.0, 1,
              error_spike_at=600.0, **SCRAPED),
        _pods("A/A cold start (latency ×1.15 decaying over 2 min), 2+10 pods, 200 canary rps", Kind.AA, 200.0,
              cold_factor=0.15),
        _pods(f"A/A {MIX}, default buckets", Kind.AA, 100.0, **REALISTIC),
        _pods(HEALTHY, Kind.AA, 20.0, flags={"healthy_target": True}, pod_error_sd=0.1, pod_latency_sd=0.05, **SCRAPED),
        _pods("starved canary: 0.1 canary rps (≈ 180 requests in 30 min), 1+10 pods, realistic mix", Kind.AA, 0.1, 1,
              flags={"starved": True}, **REALISTIC),
        _pods(f"errors ×2, {MIX}", Kind.AB, 100.0, error_ratio=2.0, **REALISTIC),
        _pods(f"latency ×1.5, {MIX}", Kind.AB, 100.0, latency_change={"scale": 1.5}, **REALISTIC),
        _pods(f"errors ×0.5 and latency ×0.8 (improvement), {MIX}", Kind.IMPROVEMENT, 100.0, error_ratio=0.5,
              latency_change={"scale": 0.8}, **REALISTIC),
    ]


def production_more() -> list[Cell]:
    """The production A/A cells the quick grid leaves out (acceptance and full have them)."""
    return [
        _pods("A/A bursts cv 0.3 (errors and requests), 1+10 pods, 200 canary rps", Kind.AA, 200.0, 1, burst_cv=0.3,
              burst_requests=True),
        *[_pods(f"A/A 15 s scrapes + lazy 5xx series, 1+10 pods, {rps:g} canary rps", Kind.AA, rps, 1, **SCRAPED)
          for rps in (2.0, 20.0, 200.0)],
        _pods(f"A/A {MIX}, fine buckets", Kind.AA, 100.0, **{**REALISTIC, "buckets": FINE_BUCKETS}),
        _pods(f"A/A {MIX}, six metrics", Kind.AA, 100.0, metric_pairs=3, **REALISTIC),
    ]


def binomial_reference() -> list[Cell]:
    """Arm-level A/A and errors ×2 at ≥ 20 canary rps and ≥ 1 % baseline: the mixture SPRT's home ground."""
    cells = []
    for canary_rps, p0 in itertools.product((20.0, 200.0), (0.01, 0.05)):
        where = f"{canary_rps:g} canary rps 10 %, p0 {100 * p0:g} %"
        traffic: dict[str, Any] = {"rps": canary_rps / 0.1, "error_rate": p0}
        cells += [_cell(f"A/A binomial, {where}", Kind.AA, **traffic),
                  _cell(f"errors ×2 binomial, {where}", Kind.AB, error_ratio=2.0, **traffic)]
    return cells


def arm_totals_bursts() -> list[Cell]:
    """Bursty pod-minutes seen through arm totals only (``sum(increase(…))`` without ``by (pod)``): the
    per-step dispersion alone must keep the A/A guarantee — and what a judge that assumes binomial
    minutes (the mixture SPRT) does there is the price of the binomial cells' speed."""
    return [
        replace(_pods(f"A/A bursts cv {cv:g} (errors and requests), 1+10 pods, {rps:g} canary rps, arm totals only",
                      Kind.AA, rps, 1, burst_cv=cv, burst_requests=True), arm_totals=True)
        for cv, rps in itertools.product((0.3, 0.5), (20.0, 200.0))
    ]


def binomial_pods_reference() -> list[Cell]:
    """The same four traffic points with a per-pod breakdown of identical binomial pods (2 canary, 18
    stable: the canary's 10 % of the replicas), so that the judge can learn from pod-minutes that the
    minutes are not bursty — the arm totals alone cannot tell (docs/statistics.md, "What arm totals
    cannot show")."""
    cells = []
    for canary_rps, p0 in itertools.product((20.0, 200.0), (0.01, 0.05)):
        where = f"{canary_rps:g} canary rps 10 %, p0 {100 * p0:g} %"
        traffic: dict[str, Any] = {"rps": canary_rps / 0.1, "error_rate": p0, "canary_pods": 2, "stable_pods": 18}
        cells += [_cell(f"A/A binomial pods 2+18, {where}", Kind.AA, **traffic),
                  _cell(f"errors ×2 binomial pods 2+18, {where}", Kind.AB, error_ratio=2.0, **traffic)]
    return cells


def _unique(cells: list[Cell]) -> list[Cell]:
    """The cells in order, without a second cell that simulates the same truth under another name."""
    seen: set[tuple[Kind, Scenario, bool]] = set()
    out = []
    for c in cells:
        if (c.kind, c.scenario, c.arm_totals) not in seen:
            seen.add((c.kind, c.scenario, c.arm_totals))
            out.append(c)
    return out


def acceptance() -> list[Cell]:
    """Exactly the cells issue 11's acceptance is measured on."""
    improvements = [c for c in _arm_level_sample() if c.kind is Kind.IMPROVEMENT]
    return _unique([*binomial_reference(), *pod_grid(), *production(), *production_more(), *improvements,
                    *binomial_pods_reference(), *arm_totals_bursts()])


def quick() -> list[Cell]:
    """A sample that touches every dimension once, in both worlds (≈ 10 minutes on 2 cores at 500 A/A runs)."""
    worst_pods = [c for c in pod_grid()
                  if (c.scenario.canary_pods, c.scenario.pod_error_sd, c.canary_rps) == (1, 0.3, 200.0)]
    references = [c for c in binomial_reference() if c.kind is Kind.AB]
    return _unique([*_arm_level_sample(), *references, *worst_pods, *production()])


def _arm_level_sample() -> list[Cell]:
    """The arm-level (binomial-world) sample of the quick grid."""
    return [
        _cell("A/A, 200 rps 10 %, p0 1 %", Kind.AA),
        _cell("A/A, 20 rps 10 %, p0 1 %", Kind.AA, rps=20.0),
        _cell("A/A, 2 rps 50 %, p0 5 %", Kind.AA, rps=2.0, canary_share=0.5, error_rate=0.05),
        _cell("A/A, load wave + spike", Kind.AA, load_wave=0.5, spike_start=12),
        _cell("A/A, common-mode overdispersion σ 0.3", Kind.AA, common_sigma=0.3),
        _cell("A/A, canary-only overdispersion σ 0.1", Kind.AA, canary_sigma=0.1, overdispersed=True),
        _cell("A/A, bimodal latency, default buckets", Kind.AA, latency=BIMODAL, buckets=DEFAULT_BUCKETS),
        _cell("errors ×1.5, 200 rps 10 %", Kind.AB, error_ratio=1.5),
        _cell("errors ×2, 200 rps 10 %", Kind.AB, error_ratio=2.0),
        _cell("errors ×2, onset at 10 min", Kind.AB, error_ratio=2.0, onset_step=10),
        _cell("errors ×2, 20 rps 10 %", Kind.AB, error_ratio=2.0, rps=20.0),
        _cell("errors ×3, 20 rps 10 %", Kind.AB, error_ratio=3.0, rps=20.0),
        _cell("errors ×5, 2 rps 50 %", Kind.AB, error_ratio=5.0, rps=2.0, canary_share=0.5),
        _cell("canary burst ×10 for 5 min", Kind.AB, burst_start=10),
        _cell("errors ×0.5 (improvement)", Kind.IMPROVEMENT, error_ratio=0.5),
        _cell("latency ×1.2, fine buckets", Kind.AB, latency_change={"scale": 1.2}),
        _cell("latency ×1.2, fine buckets, 20 rps", Kind.AB, latency_change={"scale": 1.2}, rps=20.0),
        _cell("latency ×1.5, default buckets", Kind.AB, latency_change={"scale": 1.5}, buckets=DEFAULT_BUCKETS),
        _cell("tail-only p95 ×1.5, bimodal", Kind.AB, latency=BIMODAL, latency_change={"slow_scale": 1.5}),
        _cell("latency ×0.8 (improvement)", Kind.IMPROVEMENT, latency_change={"scale": 0.8}),
    ]


def full() -> list[Cell]:
    """The whole grid: traffic × share × baseline × error ratio, dynamics and latency around the base, then
    production shape (every pod-heterogeneity cell and every production effect)."""
    cells = []
    for rps, share, p0, ratio in itertools.product((2.0, 20.0, 200.0, 2000.0), (0.05, 0.1, 0.5),
                                                  (0.001, 0.01, 0.05), (1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 0.5)):
        kind = Kind.AA if ratio == 1.0 else (Kind.IMPROVEMENT if ratio < 1 else Kind.AB)
        name = f"errors ×{ratio:g}, {_traffic(rps, share)}, p0 {p0:.1%}"
        cells.append(_cell(name, kind, error_ratio=ratio, rps=rps, canary_share=share, error_rate=p0))
    for ratio in (1.0, 2.0):
        kind = Kind.AA if ratio == 1.0 else Kind.AB
        cells += [
            _cell(f"errors ×{ratio:g}, load wave", kind, error_ratio=ratio, load_wave=0.5),
            _cell(f"errors ×{ratio:g}, traffic spike ×3", kind, error_ratio=ratio, spike_start=12),
            _cell(f"errors ×{ratio:g}, common-mode σ 0.3", kind, error_ratio=ratio, common_sigma=0.3),
            _cell(f"errors ×{ratio:g}, canary-only σ 0.1", kind, error_ratio=ratio, canary_sigma=0.1,
                  overdispersed=True),
        ]
    cells.append(_cell("errors ×2, onset at 10 min", Kind.AB, error_ratio=2.0, onset_step=10))
    cells.append(_cell("canary burst ×10 for 5 min", Kind.AB, burst_start=10))
    for latency, label in ((Latency(0.1, 0.5), "lognormal"), (BIMODAL, "bimodal")):
        for buckets, bucket_label in ((DEFAULT_BUCKETS, "default"), (FINE_BUCKETS, "fine")):
            for rps in (20.0, 200.0, 2000.0):
                where = f"{label}, {bucket_label} buckets, {rps:g} rps"
                common: dict[str, Any] = {"latency": latency, "buckets": buckets, "rps": rps}
                cells.append(_cell(f"A/A latency, {where}", Kind.AA, **common))
                for change, text in (({"scale": 1.1}, "×1.1"), ({"scale": 1.2}, "×1.2"), ({"scale": 1.5}, "×1.5"),
                                     ({"shift": 0.02}, "+20 ms")):
                    cells.append(_cell(f"latency {text}, {where}", Kind.AB, latency_change=change, **common))
                cells.append(_cell(f"latency ×0.8, {where}", Kind.IMPROVEMENT, latency_change={"scale": 0.8}, **common))
                if latency is BIMODAL:
                    cells.append(_cell(f"tail-only p95 ×1.5, {where}", Kind.AB, latency_change={"slow_scale": 1.5},
                                       **common))
                    cells.append(_cell(f"slow-mode weight 0.15, {where}", Kind.AB, latency_change={"slow_weight": 0.15},
                                       **common))
    return _unique([*cells, *binomial_reference(), *pod_grid(), *production(), *production_more(),
                    *binomial_pods_reference(), *arm_totals_bursts()])
