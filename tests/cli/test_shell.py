"""The command line as a shell sees it: start-up cost, --version, completion, help text everywhere."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import typing

import pytest
import typer
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app, gate, offline

runner = CliRunner()
#: The issue's budget for --help and --version: user + system CPU of the whole process.
STARTUP_CPU_SECONDS = 0.3


def _cpu_seconds(*args: str) -> float:
    """CPU time (user + system) of one `python -m analyzer.cli ARGS` run, from the children's rusage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "analyzer.cli", *args], check=True, capture_output=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("rollout", "--help")])
def test_help_and_version_start_fast(args):
    """Lazy imports: no numpy, scipy, pydantic models, Kubernetes client or SQLAlchemy before a command runs."""
    _cpu_seconds(*args)  # warm the file cache (and the bytecode of the tree, if it is writable)
    best = min(_cpu_seconds(*args) for _ in range(3))
    assert best < STARTUP_CPU_SECONDS, f"{' '.join(args)} took {best:.3f} s of CPU"


def test_importing_the_cli_loads_no_heavy_module():
    code = ("import sys, analyzer.cli; heavy = {'numpy', 'scipy', 'kubernetes', 'sqlalchemy', 'analyzer.model'}"
            "; print(sorted(heavy & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"canary-analyzer {analyzer.__version__}\n"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_completion_scripts(shell):
    result = runner.invoke(app, ["completion", shell])
    assert result.exit_code == 0 and "_CANARY_ANALYZER_COMPLETE" in result.stdout


def test_completion_completes_commands_and_verbs():
    def complete(words: str) -> list[str]:
        env = {**os.environ, "_CANARY_ANALYZER_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
        done = subprocess.run([sys.executable, "-m", "analyzer.cli"], capture_output=True, text=True, env=env)
        return done.stdout.split()

    assert "rollout" in complete("canary-analyzer ro")
    assert {"promote", "pause"} <= set(complete("canary-analyzer rollout p"))
    assert "restart" in complete("canary-analyzer rollout res")


def _commands(group: typing.Any, prefix: str = "") -> typing.Iterator[tuple[str, typing.Any]]:
    """Every visible (sub)command under a click group, by its full path (Typer vendors its own click)."""
    for name, command in group.commands.items():
        if command.hidden:
            continue
        yield prefix + name, command
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + name + " ")


def test_every_command_argument_and_option_has_help():
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        if not command.help:
            missing.append(path)
        missing += [f"{path} {param.name}" for param in command.params
                    if not getattr(param, "hidden", False) and not getattr(param, "help", None)]
    assert missing == []


def test_choices_are_the_services():
    """The CLI names the service's choices without importing the service; these must stay the same."""
    from analyzer.service import JudgeName, Regression
    from analyzer.service.gate import OnFail, OnInconclusive, OnPass

    pairs = [(offline.JudgeChoice, JudgeName), (offline.RegressionChoice, Regression), (gate.OnPassChoice, OnPass),
             (gate.OnFailChoice, OnFail), (gate.OnInconclusiveChoice, OnInconclusive)]
    for choice, enum in pairs:
        assert set(typing.get_args(choice)) == {member.value for member in enum}
