"""Markdown of a judgment, e.g. for a CI job summary."""

from __future__ import annotations

from analyzer.model import Judgment, Verdict
from analyzer.report.text import arm_values, e_value, interval, number, ratio_legend

ICON = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.INCONCLUSIVE: "⏸️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(judgment: Judgment) -> str:
    lines = [
        f"### {ICON[judgment.verdict]} Canary verdict: **{judgment.verdict.value}** (score {judgment.score:g})",
        "",
        "| metric | verdict | canary | stable | ratio | interval | e-value / threshold | reason |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in judgment.metrics:
        canary, stable = arm_values(r)
        evidence = f"{e_value(r.e_value)} / {e_value(r.e_threshold)}" if r.e_value is not None else "–"
        lines.append(
            f"| {_cell(r.name)} | {r.label or r.verdict.value} | {canary} | {stable}"
            f" | {number(r.estimate.ratio)} | {interval(r)} | {evidence} | {_cell(r.reason)} |"
        )
    lines += ["", f"_{ratio_legend(judgment)}._", ""]
    lines += [f"Judge `{judgment.judge}`, {judgment.steps} steps, input `{judgment.input_digest}`.", ""]
    return "\n".join(lines)
