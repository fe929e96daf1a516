"""`canary-analyzer completion SHELL`: the shell-completion script, printed as kubectl prints its own."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from analyzer.cli.common import app


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"
    POWERSHELL = "powershell"


@app.command("completion")
def completion_command(shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell")]) -> None:
    """Print the shell-completion script; in ~/.bashrc: source <(canary-analyzer completion bash)."""
    from typer._completion_shared import get_completion_script  # Typer's own scripts, also used by --show-completion

    print(get_completion_script(prog_name="canary-analyzer", complete_var="_CANARY_ANALYZER_COMPLETE",
                                shell=shell.value))
