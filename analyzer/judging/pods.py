"""Per-pod series for the pod-variation and pod-minute estimates, from a metric's ``pods`` breakdown.

An arm without a breakdown counts as one pod holding all its traffic: the pessimistic reading
(Σ w² = 1) of how much that arm's rate may owe to its pods.
"""

from __future__ import annotations

import numpy as np

from analyzer.judging.evidence import PodSeries
from analyzer.stats.eprocess import FloatArray


def arm_pods(
    events: list[FloatArray], total: list[FloatArray], arm_events: FloatArray, arm_total: FloatArray
) -> PodSeries:
    """Each pod's events (clipped to requests) and requests per tested step, shape (pods, steps)."""
    if not total:
        return PodSeries(events=arm_events[None, :], total=arm_total[None, :])
    pod_total = np.vstack(total).astype(np.float64)
    return PodSeries(events=np.minimum(np.vstack(events), pod_total), total=pod_total)
