"""Export a past canary from Prometheus as a measurement file, so that it can be re-judged offline."""

from __future__ import annotations

from datetime import datetime

from analyzer.config import query_profiles
from analyzer.errors import InputError
from analyzer.model import Measurement
from analyzer.service.analysis import prometheus_source
from analyzer.settings import Settings
from analyzer.sources.prometheus import Window, align_down
from analyzer.sources.queries import Target


def export_measurement(
    settings: Settings, profile_name: str, target: Target, start: datetime, end: datetime
) -> Measurement:
    """The profile's metrics for both arms over whole steps from ``start`` to ``end``."""
    profiles = query_profiles(settings.profiles_dir)
    if profile_name not in profiles:
        raise InputError(f"profile {profile_name!r} is not configured; known profiles: {', '.join(sorted(profiles))}")
    profile = profiles[profile_name]
    step = profile.step_seconds
    window = Window(start=align_down(start.timestamp(), step), end=align_down(end.timestamp(), step), step=step)
    if window.steps < 1:
        raise InputError(f"--from {start.isoformat()} to --to {end.isoformat()} holds no whole {step} s step")
    if window.steps > settings.max_steps:
        raise InputError(f"{window.steps} steps exceed max_steps {settings.max_steps}; export a shorter range")
    source = prometheus_source(settings)
    try:
        return source.fetch(profile, target, window).measurement
    finally:
        source.close()
