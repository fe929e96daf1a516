"""A Rich table of a judgment, for terminals and CI logs.

The default table fits 80 columns (a CI log's width) without cutting a metric name, a verdict or a
header: long names fold onto a second line, and the evidence columns (interval, e-value, requests)
are in the wide table (``-o wide``) only, which turns into one block per metric where it does not fit
the terminal. A legend under the table says what the ratio is, since it is
a ratio of error rates for a ratio metric but of slow shares for a latency metric.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from analyzer.model import Judgment, MetricResult, Verdict
from analyzer.report.text import arm_values, e_value, interval, number, ratio_legend

STYLE = {Verdict.PASS: "bold green", Verdict.FAIL: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}

def _name(result: MetricResult) -> Text:
    """The metric's name, with its flags on a line of their own so that the name is never cut."""
    flags = [flag for flag, on in (("dry run", result.dry_run), ("non-critical", not result.critical)) if on]
    return Text(result.name + "".join(f"\n({flag})" for flag in flags), overflow="fold")


def _evidence(result: MetricResult) -> tuple[str, str, str]:
    """The wide cells: interval on the ratio, e-value against its threshold, requests per arm."""
    evidence = f"{e_value(result.e_value)} / {e_value(result.e_threshold)}" if result.e_value is not None else "–"
    requests = f"{result.samples.canary_requests:,.0f} / {result.samples.stable_requests:,.0f}"
    return interval(result), evidence, requests


def judgment_table(judgment: Judgment, title: str | None = None, wide: bool = False) -> Table:
    """One row per metric: name, verdict, canary and stable values, their ratio (and, wide, the evidence)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column("metric", overflow="fold", ratio=1, min_width=12)
    table.add_column("verdict", no_wrap=True, min_width=len(Verdict.INCONCLUSIVE.value))
    for column in ("canary", "stable", "ratio"):
        table.add_column(column, justify="right", no_wrap=True)
    if wide:
        for column in ("interval", "e-value / threshold", "requests canary / stable"):
            table.add_column(column, justify="right", no_wrap=True)
    for r in judgment.metrics:
        canary, stable = arm_values(r)
        cells: list[RenderableType] = [
            _name(r), Text(r.label or r.verdict.value, style=STYLE[r.verdict]), canary, stable, number(r.estimate.ratio)
        ]
        table.add_row(*cells, *(_evidence(r) if wide else ()))
    return table


def judgment_blocks(judgment: Judgment) -> Group:
    """The wide table's cells as one block per metric (name and verdict, then label: value pairs)."""
    blocks: list[RenderableType] = []
    for r in judgment.metrics:
        canary, stable = arm_values(r)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        keys = ("canary / stable", "ratio", "interval", "e-value / threshold", "requests c / s")
        for key, value in zip(keys, (f"{canary} / {stable}", number(r.estimate.ratio), *_evidence(r)), strict=True):
            grid.add_row(key, value)
        blocks += [Text.assemble(_name(r), "  ", (r.label or r.verdict.value, STYLE[r.verdict])),
                   Padding(grid, (0, 0, 0, 2))]
    return Group(*blocks)


class Fit:
    """The first renderable whose natural width fits the console, else the last one."""

    def __init__(self, *choices: RenderableType) -> None:
        self.choices = choices

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=10_000)  # a table measures itself within the width it is given
        for choice in self.choices[:-1]:
            if Measurement.get(console, unbounded, choice).maximum <= options.max_width:
                yield choice
                return
        yield self.choices[-1]


def render(judgment: Judgment, wide: bool = False, head: RenderableType | None = None) -> Group:
    """Verdict line (or the caller's ``head``), metric table, what the ratio is, and the reasons."""
    verdict_line = Text.assemble(
        ("verdict: ", "bold"),
        (judgment.verdict.value.upper(), STYLE[judgment.verdict]),
        f"   score {judgment.score:g}   steps {judgment.steps}   judge {judgment.judge}",
    )
    reasons = Text("\n".join(f"• {reason}" for reason in judgment.reasons))
    parts: list[RenderableType] = [verdict_line] if head is None else [head, verdict_line]
    table: RenderableType = judgment_table(judgment)
    if wide:
        table = Fit(judgment_table(judgment, wide=True), judgment_blocks(judgment))
    return Group(*parts, table, Text(ratio_legend(judgment), style="dim"), reasons)
