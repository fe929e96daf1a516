"""bench/gauges.py: every cell runs and prints its shares; the speed figures come side by side."""

from __future__ import annotations

import pytest

from bench import gauges


def test_every_cell_prints_its_fail_and_pass_shares(capsys):
    gauges.main(["--runs", "4"])
    lines = capsys.readouterr().out.splitlines()
    cells = len(gauges.gauge_cells()) + len(gauges.threshold_cells())
    assert sum("fail" in line and "pass" in line and "s CPU" in line for line in lines) == cells


def test_wilson_upper_bound_of_a_share():
    assert gauges.wilson_upper(0, 2000) == pytest.approx(0.00192, rel=0.01)
    assert gauges.wilson_upper(20, 2000) > 0.01 > gauges.wilson_upper(5, 2000)


def test_speed_times_both_looks():
    assert [line.split()[0] for line in gauges.speed(rounds=1, judgments=2)] == ["http", "http-resources"]

