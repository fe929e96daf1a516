"""Judges: Policy + Measurement → Judgment. Pure functions, no I/O and no clock.

``judge_kayenta`` loads on first use: its Mann-Whitney classifier needs ``scipy.stats``, which the
live service's looks (our judge) never import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer.judging.ours import judge

if TYPE_CHECKING:
    from analyzer.judging.kayenta import judge_kayenta

__all__ = ["judge", "judge_kayenta"]


def __getattr__(name: str) -> Any:
    if name == "judge_kayenta":
        from analyzer.judging.kayenta import judge_kayenta

        return judge_kayenta
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
