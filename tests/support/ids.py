"""Ledger ids made in a burst, for tests of id prefixes."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from analyzer.store import ledger


def burst_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ledger ids (time-ordered) made one nanosecond apart: they share their first 15 characters, as ids
    made in the same second share about 8, so a prefix of that length is ambiguous by construction."""
    monkeypatch.setattr(ledger, "time", SimpleNamespace(time_ns=itertools.count(1_800_000_000 * 10**9).__next__))


def common_prefix(ids: list[str]) -> str:
    """What the ids share at their start."""
    n = 0
    while all(len(i) > n and i[n] == ids[0][n] for i in ids):
        n += 1
    return ids[0][:n]
