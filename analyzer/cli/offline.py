"""Offline commands: judge a measurement file, print schemas, watch the demo."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from analyzer.cli.common import EXIT, Output, app, fail, out
from analyzer.errors import InputError
from analyzer.model import Judgment, Measurement, Policy, Verdict
from analyzer.report import render, render_markdown
from analyzer.report.table import STYLE
from analyzer.service import JudgeName, Look, Regression, demo_looks, judge_file

#: The draft pydantic's schemas follow, named in the output so that validators and editors pick it.
JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


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
        raise fail(str(error)) from None
    _emit(judgment, output)
    raise typer.Exit(EXIT[judgment.verdict])


@app.command("schema")
def schema_command(
    name: Annotated[SchemaName, typer.Argument(help="measurement, policy or judgment")],
) -> None:
    """Print the JSON Schema (draft 2020-12) of a document."""
    models: dict[SchemaName, type[BaseModel]] = {
        SchemaName.MEASUREMENT: Measurement,
        SchemaName.POLICY: Policy,
        SchemaName.JUDGMENT: Judgment,
    }
    schema = {"$schema": JSON_SCHEMA_DRAFT, **models[name].model_json_schema()}
    print(json.dumps(schema, indent=2))


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
