"""The in-process look-cost bench, in a tiny run (real Prometheus, SQLite)."""

from __future__ import annotations

from bench import look_cost


def test_a_tiny_run_times_both_kinds_of_look_and_their_parts(capsys):
    results = look_cost.main(["--looks", "4", "--windows", "30", "--databases", "sqlite"])
    new, repeated = results[("sqlite", "new step", 30)], results[("sqlite", "repeated", 30)]
    assert new["look"] > 0 and new["fetch"] > 0 and new["judge"] > 0 and new["store"] > 0
    assert new["fetch"] >= new["assemble"] and new["look"] >= new["fetch"] + new["judge"]
    assert repeated["judge"] == 0 and repeated["store"] > 0  # judged once, the judgment recorded at every look
    assert "repeated" in capsys.readouterr().out
