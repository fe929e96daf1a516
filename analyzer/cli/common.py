"""What every command shares: the Typer app, options, output formats, consoles, exit codes, error exits.

Only typer and rich load at import time: every command imports what it needs (pydantic models, numpy,
scipy, the Kubernetes client, SQLAlchemy) in its body, so that ``--help``, ``--version`` and shell
completion answer in a fraction of a second.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType

from analyzer.cli.guard import GuardedTyper, options

#: Verdict (its value) -> exit code; 2 is a usage error, 4 bad input, configuration or an unreachable
#: dependency, 5 an unexpected error (a bug: :mod:`analyzer.cli.guard`).
EXIT = {"pass": 0, "fail": 1, "inconclusive": 3}
EXIT_USAGE = 2
EXIT_INPUT = 4

app = GuardedTyper(
    help="Canary judge for Argo Rollouts: canary vs stable, anytime-valid, pass / fail / inconclusive.",
    epilog="Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error, 4 bad input, configuration or "
    "infrastructure error, 5 unexpected error (a bug: rerun with --debug for the traceback).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

Namespace = Annotated[
    str | None,
    typer.Option("--namespace", "-n", metavar="NAMESPACE", help="namespace [default: the kubeconfig context's]"),
]
Context = Annotated[str | None, typer.Option("--context", metavar="CONTEXT", help="kubeconfig context to use")]
Kubeconfig = Annotated[
    str | None,
    typer.Option("--kubeconfig", metavar="FILE", help="kubeconfig file [default: $KUBECONFIG, ~/.kube/config]"),
]
Config = Annotated[
    Path | None, typer.Option("--config", "-c", help="settings YAML [default: $CANARY_ANALYZER_CONFIG]")
]
OutputFile = Annotated[
    Path | None, typer.Option("--output-file", metavar="FILE", help="write the output to this file, not stdout")
]

out = Console()
err = Console(stderr=True)


class Format(StrEnum):
    """``-o`` for commands that show state or records."""

    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


class Report(StrEnum):
    """``-o`` for commands that judge: the state formats and the CI reports."""

    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"
    MARKDOWN = "markdown"
    JUNIT = "junit"
    HTML = "html"


def fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    """Print an error (no traceback) and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def dump(data: Any, form: str) -> str:
    """``data`` (plain JSON types) as JSON or YAML text, ending in a newline."""
    plain = json.loads(json.dumps(data, default=str))
    if form == "yaml":
        import yaml

        return str(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    return json.dumps(plain, indent=2, ensure_ascii=False) + "\n"


def printed_as_data(data: Any, output: Format) -> bool:
    """With ``-o json`` or ``-o yaml``, print ``data`` so and say so; otherwise leave the table to the caller."""
    if output not in (Format.JSON, Format.YAML):
        return False
    print(dump(data, output.value), end="")
    return True


def print_names(names: Iterable[str]) -> None:
    """``-o name``: one id or name a line, nothing at all for none (so that ``xargs`` and loops see none)."""
    for name in names:
        print(name)


def write(text: str, output_file: Path | None) -> None:
    """Text to the file, or to stdout; a file write is confirmed on stderr (stdout stays machine-readable)."""
    if output_file is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    output_file.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    err.print(f"wrote {output_file}", highlight=False)


def show(renderable: RenderableType, output_file: Path | None = None) -> None:
    """A table on the terminal, or as plain text (no colour, 80 columns) in the file."""
    if output_file is None:
        out.print(renderable)
        return
    text = Console(file=io.StringIO(), width=80, color_system=None)
    text.print(renderable)
    write(text.file.getvalue(), output_file)  # type: ignore[attr-defined]


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """'90s', '5m', '1h', '1h30m', '30d' or plain seconds -> seconds; a BadParameter names the value otherwise."""
    import re

    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", cleaned)
    if not parts or "".join(a + b for a, b in parts) != cleaned:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30s, 5m, 1h, 1h30m or 30d")
    return sum(float(amount) * _UNITS[unit] for amount, unit in parts)


def version_text() -> str:
    from analyzer import __version__

    return f"canary-analyzer {__version__}"


def _print_version(value: bool) -> None:
    if value:
        print(version_text())
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an unexpected error (exit 5), print its traceback.")
    ] = False,
) -> None:
    """Canary judge for Argo Rollouts: canary vs stable, anytime-valid, pass / fail / inconclusive."""
    options.debug = debug
