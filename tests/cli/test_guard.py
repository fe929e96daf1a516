"""Exit codes keep their meaning (issue 13.8), run as a user runs the command: a process, a pipe, stderr.

1 means "the canary failed" to a CI gate: neither a reader that stops early nor a bug may end in 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli.guard import EXIT_UNEXPECTED
from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate

CLI = [sys.executable, "-m", "analyzer.cli"]


@pytest.fixture(scope="module")
def measurements(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("guard")
    scenarios = {"pass": (Scenario(buckets=FINE_BUCKETS), 9), "inconclusive": (Scenario(rps=10.0, steps=5), 1)}
    paths = {}
    for verdict, (scenario, seed) in scenarios.items():
        paths[verdict] = folder / f"{verdict}.json"
        paths[verdict].write_text(simulate(scenario, seed).model_dump_json())
    return paths


def _closed_reader(args: list[str]) -> tuple[int, str]:
    """Run with stdout a pipe whose reader has already gone (``| head`` that stopped reading)."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    return process.wait(timeout=60), stderr


@pytest.mark.parametrize(("verdict", "output", "code"),
                         [("pass", "table", 0), ("pass", "json", 0), ("inconclusive", "markdown", 3)])
def test_a_reader_that_stops_early_leaves_the_verdicts_exit_code(measurements, verdict, output, code):
    returncode, stderr = _closed_reader([*CLI, "judge", str(measurements[verdict]), "-o", output])
    assert (returncode, stderr) == (code, "")  # was 1 (click's broken pipe), read as "canary failed"


_EXPLODING = """
import sys
from analyzer.cli import app

@app.command("explode")
def explode() -> None:
    {}

app(prog_name="canary-analyzer")
"""


def _explode(statement: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real root app (callback, --debug, guard) with one more command that meets a real error."""
    return subprocess.run([sys.executable, "-c", _EXPLODING.format(statement), *args, "explode"],
                          capture_output=True, text=True, check=False)


def test_an_unexpected_error_is_one_line_a_hint_and_its_own_exit_code():
    run = _explode("{}['missing']")
    assert run.returncode == EXIT_UNEXPECTED != 1
    lines = run.stderr.splitlines()
    assert lines == [
        "error: unexpected KeyError: 'missing'",
        f"hint: this is a bug (exit {EXIT_UNEXPECTED}); for the traceback, rerun with --debug:"
        " canary-analyzer --debug explode",
    ]


def test_debug_prints_the_traceback_and_keeps_the_exit_code():
    run = _explode("1 / 0", "--debug")
    assert run.returncode == EXIT_UNEXPECTED
    assert "Traceback (most recent call last)" in run.stderr and "in explode" in run.stderr
    assert run.stderr.splitlines()[-1] == "error: unexpected ZeroDivisionError: division by zero"


def test_exits_of_the_command_and_of_click_pass_through_the_guard():
    assert _explode("sys.exit(3)").returncode == 3
    usage = _explode("pass", "--no-such-flag")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_a_file_nested_too_deep_is_bad_input_named_as_such(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 5_000 + "]" * 5_000)  # past the recursion limit of a parser
    run = subprocess.run([*CLI, "judge", str(deep)], capture_output=True, text=True, check=False)
    assert run.returncode == 4, run.stderr[-500:]
    assert "nested too deeply" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) <= 2
