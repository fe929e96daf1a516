"""A canary run made of segments, one per stretch of a Rollout (a setWeight step, an abort, a retry).

Each segment is simulated on its own (its traffic share, its regression) and the per-step counts are
laid end to end, so that one backfilled Prometheus holds a Rollout whose weight and health change
between steps.
"""

from __future__ import annotations

from typing import Any

from analyzer.model import Measurement
from analyzer.sources.simulate import Scenario, simulate


def joined(segments: list[tuple[Scenario, int]]) -> Measurement:
    """The segments' measurements (scenario, seed) one after another; arm-level scenarios only."""
    parts = [simulate(scenario, seed).model_dump(mode="json") for scenario, seed in segments]
    data: dict[str, Any] = parts[0]
    for part in parts[1:]:
        for name, metric in data["metrics"].items():
            extra = part["metrics"][name]
            if metric["kind"] == "ratio":
                for arm in ("canary", "stable"):
                    for field in ("total", "events"):
                        metric[arm][field] += extra[arm][field]
            else:
                metric["canary"] += extra["canary"]
                metric["stable"] += extra["stable"]
    return Measurement.model_validate(data)
