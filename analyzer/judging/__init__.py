"""Judges: Policy + Measurement → Judgment. Pure functions, no I/O and no clock."""

from analyzer.judging.kayenta import judge_kayenta
from analyzer.judging.ours import judge

__all__ = ["judge", "judge_kayenta"]
