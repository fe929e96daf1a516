"""Argo's durations read as Go reads them, and shown as kubectl's AGE column shows them."""

from __future__ import annotations

import pytest

from analyzer.rollouts.durations import go_duration_seconds, human


@pytest.mark.parametrize(("written", "seconds"), [
    (30, 30.0), ("30", 30.0), ("30s", 30.0), ("2m", 120.0), ("1h30m", 5400.0), ("1.5h", 5400.0),
    ("500ms", 0.5), ("-1m", -60.0),
])
def test_go_durations(written, seconds):
    assert go_duration_seconds(written) == pytest.approx(seconds)


@pytest.mark.parametrize("junk", ["2 minutes", "1d", "m", "", None, True, "1h-30m"])
def test_what_go_cannot_read_is_none(junk):
    assert go_duration_seconds(junk) is None


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0s"), (45, "45s"), (119, "119s"), (330, "5m30s"), (300, "5m"), (2520, "42m"), (18600, "5h10m"),
    (108000, "30h"), (273600, "3d4h"), (12 * 86400 + 5, "12d"), (-5, "0s"),
])
def test_human_durations_as_kubectl_shows_them(seconds, shown):
    assert human(seconds) == shown
