"""Per-pod series for the pod-variation and pod-minute estimates, from a metric's ``pods`` breakdown.

An arm without a breakdown counts as one pod holding all its traffic: the pessimistic reading
(Σ w² = 1) of how much that arm's rate may owe to its pods.
"""

from __future__ import annotations

import numpy as np

from analyzer.judging.evidence import PodSeries
from analyzer.stats.eprocess import FloatArray


def arm_pods(
    events: list[FloatArray], total: list[FloatArray], arm_events: FloatArray, arm_total: FloatArray, start: int = 0
) -> PodSeries:
    """Each pod's events (clipped to requests) and requests per step, shape (pods, steps): ``events``
    and ``total`` over the whole window, split at ``start`` into warm-up and tested steps (``arm_*``
    are the arm's tested steps, for an arm without a breakdown)."""
    if not total:
        return PodSeries(events=arm_events[None, :], total=arm_total[None, :])
    pod_total = np.vstack(total).astype(np.float64)
    pod_events = np.minimum(np.vstack(events), pod_total)
    return PodSeries(pod_events[:, start:], pod_total[:, start:], pod_events[:, :start], pod_total[:, :start])
