"""The grid of canaries (research-statistics.md §6.2): what each cell simulates and what the truth is."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from enum import StrEnum

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

    @property
    def regression_start(self) -> int:
        """The first minute (0-based) at which the canary is worse: the onset, or a transient burst."""
        burst = self.scenario.burst_start
        return burst if burst is not None and self.kind is Kind.AB else self.scenario.onset_step


BASE = Scenario(steps=30, rps=200.0, canary_share=0.1, error_rate=0.01, latency=Latency(0.1, 0.5), buckets=FINE_BUCKETS)


def _cell(name: str, kind: Kind, error_ratio: float = 1.0, overdispersed: bool = False,
          latency_change: dict[str, float] | None = None, **changes: object) -> Cell:
    """A cell around BASE; bimodal latency (p95 0.40 s) is flagged as breaching the default SLO."""
    change = dict(latency_change or {})
    scenario_changes: dict[str, object] = dict(changes)
    scenario_changes.setdefault("error_ratio", error_ratio)
    for key, scenario_key in (("scale", "latency_scale"), ("slow_scale", "slow_mode_scale"),
                              ("shift", "latency_shift"), ("slow_weight", "slow_weight")):
        if key in change:
            scenario_changes[scenario_key] = change[key]
    scenario = replace(BASE, **scenario_changes)  # type: ignore[arg-type]
    return Cell(name, kind, scenario, error_ratio, change, overdispersed, slo_breach=scenario.latency is BIMODAL)


def _traffic(rps: float, share: float) -> str:
    return f"{rps:g} rps, {share:.0%} canary"


def quick() -> list[Cell]:
    """A sample that touches every dimension once; runs in a few minutes."""
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
    """The whole grid: traffic × share × baseline × error ratio, then dynamics and latency around the base."""
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
                common = {"latency": latency, "buckets": buckets, "rps": rps}
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
    return cells
