"""A stable digest of a measurement, hashed step by step so that a look hashes only its new steps.

``measurement_digest`` (``sha256-steps:`` and 64 hex digits) is sha256 over, in this order:

* ``step_seconds=`` and the step's ``repr``;
* for each metric in name order, ``\\n``, its name and ``=``, then

  - a ratio or histogram metric: its *skeleton* — the model's own ``model_dump_json()`` of the metric
    with every per-step list replaced by ``[-1234567.25]`` (a list of rows by ``[[-1234567.25]]``) —
    and then, for each per-step list in the skeleton's order, ``\\n``, its number of steps, ``:`` and
    the sha256 (32 bytes) of its counts as little-endian float64, step after step (a row's bounds in
    ``le`` order);
  - a gauge metric: its ``model_dump_json()``.

The per-list sha256 is a running hash kept with the list's array (:mod:`analyzer.judging.kept_lists`),
so a look hashes the steps the last look did not hold and the skeletons (no per-step data): at 1,440
steps the digest of the canonical JSON cost 2.2 ms of sha256 alone a look, and 15 ms from scratch.

Judgments recorded before carry ``sha256:`` digests, sha256 over the canonical JSON (``step_seconds=``
and its ``repr``, then ``\\n``, name, ``=`` and ``model_dump_json()`` of each metric in name order):
:func:`digest_matches` checks either form against a measurement.
"""

from __future__ import annotations

import hashlib
from typing import Any

from analyzer.judging.kept_lists import list_key, steps_column
from analyzer.model import HistogramMetric, Measurement, RatioMetric

#: The prefix of the step-by-step digest.
STEPS = "sha256-steps:"
#: The prefix of the canonical-JSON digest, which judgments before the step-by-step one carry.
JSON = "sha256:"
#: Stands for a per-step list in a metric's skeleton (no valid count is negative).
_MARK = -1234567.25


def measurement_digest(measurement: Measurement) -> str:
    """The measurement's ``sha256-steps:`` digest (see the module's docstring)."""
    digest = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        metric = measurement.metrics[name]
        digest.update(f"\n{name}=".encode())
        if not isinstance(metric, RatioMetric | HistogramMetric):
            digest.update(metric.model_dump_json().encode())
            continue
        skeleton, lists = _step_lists(metric)
        digest.update(skeleton.model_dump_json().encode())
        width = len(metric.le) if isinstance(metric, HistogramMetric) else 0
        for path, values in lists:
            column = steps_column(list_key(name, metric, *path), values, width)
            digest.update(f"\n{len(values)}:".encode() + column.digest())
    return STEPS + digest.hexdigest()


def json_digest(measurement: Measurement) -> str:
    """The measurement's ``sha256:`` digest, over its canonical JSON (the form of earlier judgments)."""
    digest = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        digest.update(f"\n{name}=".encode() + measurement.metrics[name].model_dump_json().encode())
    return JSON + digest.hexdigest()


def digest_matches(measurement: Measurement, digest: str) -> bool:
    """Whether ``digest`` (either form) is the measurement's: what a stored judgment's ``input_digest`` is
    checked with against the stored counts."""
    if digest.startswith(STEPS):
        return measurement_digest(measurement) == digest
    return digest.startswith(JSON) and json_digest(measurement) == digest


def _step_lists(metric: RatioMetric | HistogramMetric) -> tuple[Any, list[tuple[tuple[str, ...], list[Any]]]]:
    """The metric with every per-step list replaced by a marker, and those lists in JSON order with their
    paths (``list_key``'s: the arm, or "pods", the arm and the pod; and a ratio arm's field)."""
    found: list[tuple[tuple[str, ...], list[Any]]] = []
    if isinstance(metric, RatioMetric):

        def arm(path: tuple[str, ...], counts: Any) -> Any:
            found.extend([((*path, "total"), counts.total), ((*path, "events"), counts.events)])
            return counts.model_copy(update={"total": [_MARK], "events": [_MARK]})

        update: dict[str, Any] = {"canary": arm(("canary",), metric.canary), "stable": arm(("stable",), metric.stable)}
        if metric.pods is not None:
            update["pods"] = metric.pods.model_copy(update={
                side: {pod: arm(("pods", side, pod), counts) for pod, counts in getattr(metric.pods, side).items()}
                for side in ("canary", "stable")
            })
        return metric.model_copy(update=update), found

    def rows(path: tuple[str, ...], values: list[list[float]]) -> list[list[float]]:
        found.append((path, values))
        return [[_MARK]]

    update = {"canary": rows(("canary",), metric.canary), "stable": rows(("stable",), metric.stable)}
    if metric.pods is not None:
        update["pods"] = metric.pods.model_copy(update={
            side: {pod: rows(("pods", side, pod), values) for pod, values in getattr(metric.pods, side).items()}
            for side in ("canary", "stable")
        })
    return metric.model_copy(update=update), found
