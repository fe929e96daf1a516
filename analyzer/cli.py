"""The ``canary-analyzer`` command line.

Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error, 4 input or infrastructure error.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from analyzer.errors import InputError, SourceUnavailableError, describe
from analyzer.model import Judgment, Measurement, Policy, Verdict
from analyzer.report import render, render_markdown
from analyzer.report.table import STYLE
from analyzer.service import JudgeName, Look, Regression, demo_looks, judge_file
from analyzer.service.analysis import check_settings
from analyzer.settings import load_settings

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


class SchemaName(StrEnum):
    MEASUREMENT = "measurement"
    POLICY = "policy"
    JUDGMENT = "judgment"


def _emit(judgment: Judgment, output: Output) -> None:
    if output is Output.JSON:
        print(judgment.model_dump_json(indent=2))
    elif output is Output.MARKDOWN:
        print(render_markdown(judgment))
    else:
        out.print(render(judgment))


@app.command("judge")
def judge_command(
    file: Annotated[str, typer.Argument(help="measurement JSON or YAML file ('-' for stdin)")],
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="policy: a YAML file or a built-in name")
    ] = None,
    judge: Annotated[JudgeName, typer.Option("--judge", help="ours, or kayenta for parity")] = JudgeName.OURS,
    output: Annotated[Output, typer.Option("--output", "-o", help="table, json or markdown")] = Output.TABLE,
) -> None:
    """Judge a measurement file. Exit 0 pass, 1 fail, 3 inconclusive, 4 bad input."""
    try:
        judgment = judge_file(file, profile, judge)
    except InputError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    _emit(judgment, output)
    raise typer.Exit(EXIT[judgment.verdict])


@app.command("schema")
def schema_command(
    name: Annotated[SchemaName, typer.Argument(help="measurement, policy or judgment")],
) -> None:
    """Print the JSON Schema of a document."""
    models: dict[SchemaName, type[BaseModel]] = {
        SchemaName.MEASUREMENT: Measurement,
        SchemaName.POLICY: Policy,
        SchemaName.JUDGMENT: Judgment,
    }
    print(json.dumps(models[name].model_json_schema(), indent=2))


def _looks_table(looks: list[Look]) -> Table:
    table = Table(title="canary looks (one per minute)", title_justify="left")
    for column in ("look", "verdict", "score", "error rate c / s", "p95 c / s", "why"):
        table.add_column(column)
    for look in looks[-12:]:
        j = look.judgment
        cells = {m.name: m for m in j.metrics}
        err_m, lat_m = cells.get("error-rate"), cells.get("latency")
        rates = "–"
        if err_m and err_m.estimate.canary_rate is not None and err_m.estimate.stable_rate is not None:
            rates = f"{err_m.estimate.canary_rate:.2%} / {err_m.estimate.stable_rate:.2%}"
        p95 = (
            f"{lat_m.estimate.canary:.3f} / {lat_m.estimate.stable:.3f} s"
            if lat_m and lat_m.estimate.canary is not None and lat_m.estimate.stable is not None
            else "–"
        )
        table.add_row(
            str(look.step),
            Text(j.verdict.value, style=STYLE[j.verdict]),
            f"{j.score:g}",
            rates,
            p95,
            j.reasons[0],
        )
    return table


@app.command("demo")
def demo_command(
    regression: Annotated[
        Regression, typer.Option(help="what the canary breaks at minute 5: errors (x3), latency (x1.5), none")
    ] = Regression.ERRORS,
    steps: Annotated[int, typer.Option(min=2, max=240, help="canary minutes (Argo count)")] = 30,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    delay: Annotated[float, typer.Option(min=0, help="seconds between looks on screen")] = 0.25,
) -> None:
    """Watch a simulated canary judged look by look, on the built-in defaults."""
    out.print(
        "Simulating 10 canary req/s beside 90 stable req/s (1 % errors, p95 ≈ 180 ms); "
        f"regression: [bold]{regression.value}[/] from minute 5. Argo asks once a minute.\n"
    )
    looks: list[Look] = []
    with Live(_looks_table(looks), console=out, refresh_per_second=8, transient=False) as live:
        for look in demo_looks(regression, steps, seed):
            looks.append(look)
            live.update(_looks_table(looks))
            time.sleep(delay if out.is_terminal else 0)
    final = looks[-1]
    verdict = final.judgment.verdict
    if verdict is Verdict.INCONCLUSIVE:
        action = f"the horizon of {steps} looks ended undecided: Argo pauses the Rollout for a human"
    elif verdict is Verdict.FAIL:
        action = f"Argo aborts the Rollout at minute {final.step}: traffic goes back to stable"
    else:
        action = f"Argo promotes the canary at minute {final.step}"
    out.print(Group(Text.assemble("\nsummary: ", (action, STYLE[verdict])), render(final.judgment)))


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command("serve")
def serve_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML settings file (else CANARY_ANALYZER_CONFIG)")
    ] = None,
    host: Annotated[str | None, typer.Option(help="listen address [settings: host, 0.0.0.0]")] = None,
    port: Annotated[int | None, typer.Option(help="listen port [settings: port, 8080]")] = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the Argo Rollouts metric provider (FastAPI on uvicorn). Settings: docs/operations.md."""
    import uvicorn

    if config is not None:
        os.environ["CANARY_ANALYZER_CONFIG"] = str(config)
    try:
        settings = load_settings()
        check_settings(settings)  # bad profiles or database URL: a message here, not a worker's traceback
    except InputError as error:
        raise _fail(str(error)) from None
    uvicorn.run(
        "analyzer.server.asgi:app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


@app.command("export")
def export_command(
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="the Rollout's namespace")],
    rollout: Annotated[str, typer.Option(help="the Rollout's name")],
    canary: Annotated[str, typer.Option(help="canary pod-template hash")],
    stable: Annotated[str, typer.Option(help="stable pod-template hash")],
    start: Annotated[datetime, typer.Option("--from", help="start (ISO 8601; UTC unless an offset is given)")],
    end: Annotated[datetime, typer.Option("--to", help="end (ISO 8601)")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="query profile")] = "http",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML settings file")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
) -> None:
    """Write a measurement file from Prometheus for a canary/stable pair, to re-judge it offline."""
    from analyzer.service.export import export_measurement
    from analyzer.sources.queries import Target

    try:
        target = Target(namespace=namespace, rollout=rollout, canary=canary, stable=stable)
    except ValidationError as error:
        raise _fail(describe(error, "arguments"), EXIT_USAGE) from None
    try:
        measurement = export_measurement(
            load_settings(config), profile, target, _utc(start), _utc(end)
        )
    except InputError as error:
        raise _fail(str(error)) from None
    except SourceUnavailableError as error:
        raise _fail(str(error)) from None
    text = measurement.model_dump_json(indent=2)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}: {max((m.steps for m in measurement.metrics.values()), default=0)} steps")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


if __name__ == "__main__":
    app()
