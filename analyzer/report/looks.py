"""The evidence over looks, recomputed: each metric's e-value and confidence sequence at every look.

A judgment carries its evidence at the look it answered, not the path that led there. Judging every
prefix of the window's measurement (``Measurement.head(k)``) is exactly what Argo's look k saw
(docs/statistics.md: our judge reads every prefix at once), so the path is recomputed from the
per-step counts instead of being stored per look. About 2 ms a look: a report page's work, off the
hot path. Long windows are sampled to at most ``max_looks`` looks, always including the last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from analyzer.judging import judge
from analyzer.model import Measurement, MetricResult, Policy, Verdict

#: Looks recomputed for one page at most: about a quarter of a second of judging.
MAX_LOOKS = 120


@dataclass
class MetricPath:
    """One metric's evidence at each recomputed look (1-based look numbers; None where not computed)."""

    looks: list[int] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    e_value: list[float | None] = field(default_factory=list)
    e_threshold: list[float | None] = field(default_factory=list)
    pass_e_value: list[float | None] = field(default_factory=list)
    ratio: list[float | None] = field(default_factory=list)
    lower: list[float | None] = field(default_factory=list)
    upper: list[float | None] = field(default_factory=list)
    fail_boundary: list[float | None] = field(default_factory=list)
    pass_boundary: list[float | None] = field(default_factory=list)

    def add(self, look: int, result: MetricResult) -> None:
        self.looks.append(look)
        self.verdicts.append(result.verdict)
        self.e_value.append(result.e_value)
        self.e_threshold.append(result.e_threshold)
        self.pass_e_value.append(result.pass_e_value)
        self.ratio.append(result.estimate.ratio)
        self.lower.append(result.interval.lower)
        self.upper.append(result.interval.upper)
        self.fail_boundary.append(result.diagnostics.fail_boundary)
        self.pass_boundary.append(result.diagnostics.pass_boundary)

    @property
    def has_evidence(self) -> bool:
        """True when some look had an e-value or an interval to draw."""
        return any(v is not None for v in (*self.e_value, *self.lower, *self.upper))


def sampled_looks(steps: int, max_looks: int = MAX_LOOKS) -> list[int]:
    """Looks 1..steps, thinned evenly to at most ``max_looks``; the last look is always kept."""
    if steps <= max_looks:
        return list(range(1, steps + 1))
    stride = -(-steps // max_looks)
    return sorted({*range(stride, steps + 1, stride), steps})


def evidence_over_looks(
    measurement: Measurement,
    policy: Policy,
    unavailable: Mapping[str, str] | None = None,
    max_looks: int = MAX_LOOKS,
) -> dict[str, MetricPath]:
    """Each metric's path over the looks of ``measurement`` (its last look is the judgment's)."""
    steps = max((m.steps for m in measurement.metrics.values()), default=0)
    paths: dict[str, MetricPath] = {}
    for look in sampled_looks(steps, max_looks):
        judgment = judge(measurement.head(look), policy, unavailable=unavailable)
        for result in judgment.metrics:
            paths.setdefault(result.name, MetricPath()).add(look, result)
    return paths
