"""A window's measurement as a look stores it, for tests that store one directly."""

from __future__ import annotations

from datetime import datetime

from analyzer.judging.digest import measurement_digest
from analyzer.model import Measurement, Policy
from analyzer.service.reports import chunks_from, measurement_steps, stored_measurement
from analyzer.store import WindowKey
from analyzer.store.measurements import StoredMeasurement


def stored(key: WindowKey, start: int, measurement: Measurement, policy: Policy, unavailable: dict[str, str],
           now: datetime, changed_from: int = 0) -> StoredMeasurement:
    """The row with the chunks from step ``changed_from`` on, named by the measurement's own digest."""
    chunks, digest = chunks_from(changed_from, measurement_steps(measurement)), measurement_digest(measurement)
    return stored_measurement(key, start, measurement, policy, unavailable, now, chunks, digest)
