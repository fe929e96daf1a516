"""A Rich table of a judgment, for terminals."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from analyzer.model import Judgment, Verdict
from analyzer.report.text import arm_values, e_value, interval, number

STYLE = {Verdict.PASS: "bold green", Verdict.FAIL: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}


def judgment_table(judgment: Judgment, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("metric", "verdict", "canary", "stable", "ratio", "interval", "e-value", "requests (c/s)"):
        table.add_column(column, justify="left" if column in ("metric", "verdict") else "right")
    for r in judgment.metrics:
        canary, stable = arm_values(r)
        name = r.name + (" (dry run)" if r.dry_run else "") + ("" if r.critical else " (non-critical)")
        table.add_row(
            name,
            Text(r.label or r.verdict.value, style=STYLE[r.verdict]),
            canary,
            stable,
            number(r.estimate.ratio),
            interval(r),
            f"{e_value(r.e_value)} / {e_value(r.e_threshold)}" if r.e_value is not None else "–",
            f"{r.samples.canary_requests:,.0f} / {r.samples.stable_requests:,.0f}",
        )
    return table


def render(judgment: Judgment) -> Group:
    """Verdict line, metric table, reasons."""
    head = Text.assemble(
        ("verdict: ", "bold"),
        (judgment.verdict.value.upper(), STYLE[judgment.verdict]),
        f"   score {judgment.score:g}   steps {judgment.steps}   judge {judgment.judge}",
    )
    reasons = Text("\n".join(f"• {reason}" for reason in judgment.reasons))
    return Group(head, judgment_table(judgment), reasons)
