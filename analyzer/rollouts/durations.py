"""Durations as Argo Rollouts writes them (Go's ``time.ParseDuration``, or plain seconds), and as kubectl shows them."""

from __future__ import annotations

import re
from typing import Any

GO_DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(value: Any) -> float | None:
    """Seconds of an Argo duration: an integer, digits, or a Go duration ('1h30m', '90s'); None when neither.

    This is how Argo reads ``pause.duration`` and an Experiment's ``spec.duration``.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return float(text)
    if not GO_DURATION.fullmatch(text):
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text)
    return sign * sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)


def human(seconds: float) -> str:
    """A duration the way kubectl's AGE column writes it: 45s, 5m30s, 42m, 5h10m, 30h, 3d4h, 12d."""
    s = max(int(seconds), 0)
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"
