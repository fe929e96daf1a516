"""Offline commands: judge a measurement file, print schemas, watch the demo."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from analyzer.cli.common import EXIT, OutputFile, Report, app, dump, fail, out, show, write

if TYPE_CHECKING:
    from rich.table import Table

    from analyzer.model import Judgment
    from analyzer.service import Look

#: The draft pydantic's schemas follow, named in the output so that validators and editors pick it.
JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: The judges and demo regressions by name (analyzer.service's JudgeName and Regression; a test keeps them equal).
JudgeChoice = Literal["ours", "kayenta"]
RegressionChoice = Literal["errors", "latency", "none"]


class SchemaName(StrEnum):
    MEASUREMENT = "measurement"
    POLICY = "policy"
    JUDGMENT = "judgment"


def report_text(judgment: Judgment, output: Report, suite: str) -> str:
    """A judgment in any non-table ``-o`` format (the gate shares it)."""
    from analyzer.report import render_junit, render_markdown

    if output is Report.JSON:
        return judgment.model_dump_json(indent=2) + "\n"
    if output is Report.YAML:
        return dump(judgment.model_dump(mode="json"), "yaml")
    if output is Report.JUNIT:
        return render_junit(judgment, suite)
    if output is Report.HTML:  # the judgment alone: a page without per-step counts to plot
        from analyzer.report.html import render_html

        return render_html(judgment)
    return render_markdown(judgment)


@app.command("judge")
def judge_command(
    file: Annotated[str, typer.Argument(help="measurement JSON or YAML file ('-' for stdin)", metavar="FILE")],
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="policy: a YAML file or a built-in name")
    ] = None,
    judge: Annotated[JudgeChoice, typer.Option("--judge", help="ours, or kayenta for parity")] = "ours",
    output: Annotated[
        Report, typer.Option("--output", "-o", help="table, wide, json, yaml, markdown, junit or html")
    ] = Report.TABLE,
    output_file: OutputFile = None,
) -> None:
    """Judge a measurement file. Exit 0 pass, 1 fail, 3 inconclusive, 4 bad input."""
    from analyzer.errors import InputError
    from analyzer.service import JudgeName, judge_file

    try:
        if output is Report.HTML:  # the report page plots the counts: judged and drawn from one read of FILE
            from analyzer.service.reports import judge_file_page

            judgment, page = judge_file_page(file, profile, JudgeName(judge))
            write(page, output_file)
            raise typer.Exit(EXIT[judgment.verdict])
        judgment = judge_file(file, profile, JudgeName(judge))
    except InputError as error:
        raise fail(str(error)) from None
    if output in (Report.TABLE, Report.WIDE):
        from analyzer.report import render

        show(render(judgment, wide=output is Report.WIDE), output_file)
    else:
        write(report_text(judgment, output, f"canary-judge {file}"), output_file)
    raise typer.Exit(EXIT[judgment.verdict])


@app.command("schema")
def schema_command(
    name: Annotated[SchemaName, typer.Argument(help="measurement, policy or judgment", metavar="DOCUMENT")],
) -> None:
    """Print the JSON Schema (draft 2020-12) of a document."""
    from pydantic import BaseModel

    from analyzer.model import Judgment, Measurement, Policy

    models: dict[SchemaName, type[BaseModel]] = {
        SchemaName.MEASUREMENT: Measurement,
        SchemaName.POLICY: Policy,
        SchemaName.JUDGMENT: Judgment,
    }
    schema = {"$schema": JSON_SCHEMA_DRAFT, **models[name].model_json_schema()}
    print(json.dumps(schema, indent=2))


def _looks_table(looks: list[Look]) -> Table:
    """The last 12 looks, one row each (look counted from 1); fits 80 columns, the reason wrapping last."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from analyzer.report.table import STYLE

    table = Table(title="canary looks (one a minute; c = canary, s = stable)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("look", "verdict", "score", "errors c/s", "p95 c/s"):
        table.add_column(column, no_wrap=True, justify="left" if column == "verdict" else "right")
    table.add_column("why (first reason)", ratio=1, overflow="fold")
    for look in looks[-12:]:
        j = look.judgment
        cells = {m.name: m for m in j.metrics}
        err_m, lat_m = cells.get("error-rate"), cells.get("latency")
        rates = "–"
        if err_m and err_m.estimate.canary_rate is not None and err_m.estimate.stable_rate is not None:
            rates = f"{err_m.estimate.canary_rate * 100:.2f}/{err_m.estimate.stable_rate * 100:.2f} %"
        p95 = (
            f"{lat_m.estimate.canary:.3f}/{lat_m.estimate.stable:.3f} s"
            if lat_m and lat_m.estimate.canary is not None and lat_m.estimate.stable is not None
            else "–"
        )
        table.add_row(str(look.step), Text(j.verdict.value, style=STYLE[j.verdict]), f"{j.score:g}", rates, p95,
                      j.reasons[0])
    return table


@app.command("demo")
def demo_command(
    regression: Annotated[
        RegressionChoice, typer.Option(help="what the canary breaks at minute 5: errors (x3), latency (x1.5), none")
    ] = "errors",
    steps: Annotated[int, typer.Option(min=2, max=240, help="canary minutes (Argo count)")] = 30,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    delay: Annotated[float, typer.Option(min=0, help="seconds between looks on screen")] = 0.25,
) -> None:
    """Watch a simulated canary judged look by look, on the built-in defaults."""
    import time

    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from analyzer.model import Verdict
    from analyzer.report import render
    from analyzer.report.table import STYLE
    from analyzer.service import Regression, demo_looks

    out.print(
        "Simulating 10 canary req/s beside 90 stable req/s (1 % errors, p95 ≈ 180 ms); "
        f"regression: [bold]{regression}[/] from minute 5. Argo asks once a minute.\n"
    )
    looks: list[Look] = []
    with Live(_looks_table(looks), console=out, refresh_per_second=8, transient=False) as live:
        for look in demo_looks(Regression(regression), steps, seed):
            looks.append(look)
            live.update(_looks_table(looks))
            time.sleep(delay if out.is_terminal else 0)
    final = looks[-1]
    verdict = final.judgment.verdict
    if verdict is Verdict.INCONCLUSIVE:
        action = f"the horizon of {steps} looks ended undecided: Argo pauses the Rollout for a human"
    elif verdict is Verdict.FAIL:
        action = f"Argo aborts the Rollout at look {final.step}: traffic goes back to stable"
    else:
        action = f"Argo promotes the canary at look {final.step}"
    out.print(Group(Text.assemble("\nsummary: ", (action, STYLE[verdict])), render(final.judgment)))
