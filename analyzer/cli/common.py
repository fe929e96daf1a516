"""What every command shares: the Typer app, consoles, exit codes, error exits."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.console import Console

from analyzer.model import Verdict

EXIT = {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.INCONCLUSIVE: 3}
EXIT_USAGE = 2
EXIT_INPUT = 4

app = typer.Typer(
    help="Canary judge for Argo Rollouts: canary vs stable, anytime-valid, pass / fail / inconclusive.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    """Print an error (no traceback) and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
