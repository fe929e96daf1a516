"""A stable digest of a measurement: sha256 over its canonical JSON, metrics in name order."""

from __future__ import annotations

import hashlib

from analyzer.model import Measurement


def measurement_digest(measurement: Measurement) -> str:
    digest = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        digest.update(f"\n{name}=".encode())
        digest.update(measurement.metrics[name].model_dump_json().encode())
    return "sha256:" + digest.hexdigest()
