"""What every command shares: the Typer app, consoles, exit codes, error exits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

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


def _print_version(value: bool) -> None:
    if value:
        from analyzer import __version__

        print(f"canary-analyzer {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Canary judge for Argo Rollouts: canary vs stable, anytime-valid, pass / fail / inconclusive."""
Namespace = Annotated[str | None, typer.Option("--namespace", "-n", help="default: the kubeconfig context's")]
Context = Annotated[str | None, typer.Option("--context", help="kubeconfig context")]
Kubeconfig = Annotated[str | None, typer.Option("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")]

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


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """'90s', '5m', '1h', '1h30m' or plain seconds -> seconds; a BadParameter names the value otherwise."""
    import re

    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", cleaned)
    if not parts or "".join(a + b for a, b in parts) != cleaned:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30s, 5m, 1h or 1h30m")
    return sum(float(amount) * _UNITS[unit] for amount, unit in parts)
