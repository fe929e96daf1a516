"""One look's gauge series → a gauge metric (a value per step for each pod), and why it cannot be judged.

A gauge query returns one series per pod (``sum by (pod) (…)``): each becomes the pod's values per
step, ``None`` where the pod had no sample (a pod that started later or is gone, a missed scrape) —
for a gauge a missing sample is not 0. Series without a usable pod name are summed into one series
``all`` (with a note): a profile without a ``pod_label``, or an aggregate query.

Trust follows :mod:`analyzer.sources.assemble`: a metric is unavailable when the canary has no
series, when a comparison (policy kind ``gauge``) has no stable series, or when an arm's newest
sample is more than ``stale_steps`` steps old. A canary-only threshold needs no stable series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from analyzer.model import Kind, PodName
from analyzer.sources.queries import ARMS, QueryProfile, Target

if TYPE_CHECKING:
    from analyzer.sources.assemble import Parts, Series

#: The name of an arm's series when its pods cannot be told apart.
WHOLE_ARM = "all"
_POD_NAME: TypeAdapter[str] = TypeAdapter(PodName)


def _pod(series: Series, label: str | None) -> str | None:
    """The series' pod name, or None when it has no valid one."""
    name = series.labels.get(label, "") if label else ""
    try:
        return _POD_NAME.validate_python(name) if name else None
    except ValidationError:
        return None


def _by_pod(series: Sequence[Series], label: str | None, steps: int) -> tuple[dict[str, list[float | None]], bool]:
    """Each pod's values per step (None where absent), and whether unnamed series were summed as one."""
    values: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    unnamed = False
    for s in series:
        pod = _pod(s, label)
        unnamed = unnamed or pod is None
        key = pod or WHOLE_ARM
        values[key] = values.get(key, np.zeros(steps)) + s.values
        present[key] = present.get(key, np.zeros(steps, dtype=bool)) | s.present
    return {
        key: [float(v) if seen else None for v, seen in zip(values[key], present[key], strict=True)]
        for key in sorted(values)
    }, unnamed


def gauge_metric(
    name: str, profile: QueryProfile, target: Target, parts: Parts, steps: int, stale_steps: int, notes: list[str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The gauge metric of one look (None when no arm has series) and the reasons it cannot be judged."""
    configured = profile.policy.metrics.get(name)
    needs_stable = configured is None or configured.kind is not Kind.THRESHOLD
    data: dict[str, Any] = {"kind": "gauge"}
    doubts: list[str] = []
    where = f"in namespace {target.namespace!r} (profile {profile.name})"
    for arm in ARMS:
        series = parts[(name, "value", arm)]
        data[arm], unnamed = _by_pod(series, profile.pod_label, steps)
        if unnamed and series:
            notes.append(f"{name}: a {arm} series has no usable pod name; such series are summed as one")
        if not series:
            if arm == "canary" or needs_stable:
                doubts.append(
                    f"no series for the {arm} hash {target.hash_of(arm)!r} {where}; check the hash and the metric's"
                    " selector"
                )
            continue
        newest = max(s.last_step for s in series)
        behind = steps - 1 - newest
        if behind > stale_steps and (arm == "canary" or needs_stable):
            doubts.append(
                f"the {arm} arm (hash {target.hash_of(arm)!r}): its {name} data ends {behind} steps before the"
                " window's end (stale: pods gone, scraping stopped or lagging)"
            )
    if not data["canary"] and not data["stable"]:
        return None, doubts
    return data, doubts
