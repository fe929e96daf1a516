"""Write the results: a CSV of every (cell, judge), Markdown tables with the summary lines, and plots."""

from __future__ import annotations

import csv
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench.quality import acceptance
from bench.quality.grid import Cell, Kind
from bench.quality.run import Summary

ALPHA = 0.01
JUDGE_ORDER = ["ours", "oracle", "msprt", "kayenta", "argo-abs-f0", "argo-abs-f3", "argo-rel-f0", "argo-rel-f3"]


def write_csv(path: Path, summaries: list[Summary]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(summaries[0])))
        writer.writeheader()
        for s in summaries:
            writer.writerow(asdict(s))


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _num(x: float | None, unit: str = "") -> str:
    return "–" if x is None else f"{x:g}{unit}"


def _minutes(x: float | None) -> str:
    return "> 30 min" if x is None else f"{x:g} min"


def _by(summaries: list[Summary]) -> dict[tuple[str, str], Summary]:
    return {(s.cell, s.judge): s for s in summaries}


def headline(cells: list[Cell], summaries: list[Summary]) -> list[str]:
    """The summary lines the docs lead with, each a ratio measured in this run."""
    by = _by(summaries)
    strong = [c for c in cells if c.kind is Kind.AB and c.error_ratio >= 2 and not c.latency_change]
    lines = []
    ratios_oracle, ratios_kayenta = [], []
    for c in strong:
        ours, oracle, kay = by[(c.name, "ours")], by[(c.name, "oracle")], by[(c.name, "kayenta")]
        ours_t = ours.ttd_median if ours.ttd_median is not None else math.inf
        if oracle.ttd_median and c.binomial:  # the oracle knows the truth of the binomial world only
            ratios_oracle.append((ours_t / oracle.ttd_median, c.name))
        if ours_t and math.isfinite(ours_t):
            kay_t = kay.ttd_median if kay.ttd_median is not None else math.inf
            ratios_kayenta.append((kay_t / ours_t, c.name))
    if ratios_oracle:
        worst = max(ratios_oracle)
        lines.append(
            f"- **Our median time to detect / the oracle SPRT's** (arm-level cells, error ratio ≥ 2): median "
            f"{np.median([r for r, _ in ratios_oracle]):.2f}×, worst {worst[0]:.2f}× ({worst[1]}); target ≤ 2×."
        )
    if ratios_kayenta:
        best = min(ratios_kayenta)
        lines.append(
            f"- **Kayenta-style median time to detect / ours** (same cells): median "
            f"{np.median([r for r, _ in ratios_kayenta]):.2f}×, lowest {best[0]:.2f}× ({best[1]}); "
            "target ≥ 2× (ours ≤ 0.5× Kayenta's)."
        )
    for cell_name, field, requests, what in (
        ("errors ×2, 20 rps 10 %", "power_1500", "1,500", "a 2× error rate at 1 % baseline"),
        ("latency ×1.2, fine buckets, 20 rps", "power_3000", "3,000", "p95 +20 % (×1.2) with fine buckets"),
    ):
        if (cell_name, "ours") in by:
            value = getattr(by[(cell_name, "ours")], field)
            oracle = getattr(by[(cell_name, "oracle")], field)
            lines.append(f"- **Our power for {what} within {requests} canary requests**: {_pct(value)}; target ≥ 80 % "
                         f"(the oracle SPRT, which knows the truth: {_pct(oracle)}).")
    aa = [by[(c.name, "ours")] for c in cells if c.kind is Kind.AA and not c.overdispersed and not c.slo_breach]
    if aa:
        worst_aa = max(aa, key=lambda s: s.fail)
        lines.append(
            f"- **Our worst-cell A/A false-fail rate / α**: {worst_aa.fail:.4f} / {ALPHA} = "
            f"{worst_aa.fail / ALPHA:.2f} ({worst_aa.cell}; 95 % interval {_pct(worst_aa.fail_low)}–"
            f"{_pct(worst_aa.fail_high)}, {worst_aa.runs} runs)."
        )
    return lines


def misses(cells: list[Cell], summaries: list[Summary]) -> list[str]:
    """Cells where our judge misses a target (listed, not hidden)."""
    by = _by(summaries)
    out = []
    for c in cells:
        ours = by[(c.name, "ours")]
        if c.kind is Kind.AA and ours.fail_low > ALPHA:
            note = " (canary-only overdispersion: outside the A/A target)" if c.overdispersed else ""
            if c.slo_breach:
                note = " (both arms' p95 ≈ 0.40 s breaks the default 250 ms SLO: the policy fails it on purpose)"
            out.append(f"- {c.name}: A/A false-fail {_pct(ours.fail)} (interval above α){note}")
        if c.kind is Kind.IMPROVEMENT and ours.fail > 0:
            out.append(f"- {c.name}: aborted an improvement in {_pct(ours.fail)} of runs")
        if c.kind is Kind.AB and ours.passed > 0.05:
            out.append(f"- {c.name}: passed a regression in {_pct(ours.passed)} of runs")
        if c.kind is Kind.AB and c.error_ratio >= 2 and not c.latency_change:
            oracle, kay = by[(c.name, "oracle")], by[(c.name, "kayenta")]
            ours_t = ours.ttd_median if ours.ttd_median is not None else math.inf
            kay_t = kay.ttd_median if kay.ttd_median is not None else math.inf
            if c.binomial and oracle.ttd_median and ours_t > 2 * oracle.ttd_median:
                out.append(f"- {c.name}: median time to detect {_minutes(ours.ttd_median)} > 2× the oracle's "
                           f"{oracle.ttd_median:g} min")
            if ours_t > 0.5 * kay_t:
                out.append(f"- {c.name}: median time to detect {_minutes(ours.ttd_median)} is not ≤ 0.5× "
                           f"Kayenta-style's {_minutes(kay.ttd_median)}")
    return out


def table(cells: list[Cell], summaries: list[Summary], kind: Kind) -> list[str]:
    by = _by(summaries)
    chosen = [c for c in cells if c.kind is kind]
    if not chosen:
        return []
    if kind is Kind.AB:
        head = ("| cell | judge | power by 30 min | false pass | inconclusive | median / p90 time to detect"
                " | canary requests exposed |")
        rule = "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    else:
        label = "false fail (95 % interval)" if kind is Kind.AA else "wrongful abort"
        head = (f"| cell | judge | {label} | passed, never failed | inconclusive | median time to pass"
                " | passed within 30 min | fails by metric | runs |")
        rule = "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    rows = [head, rule]
    for c in chosen:
        for judge in JUDGE_ORDER:
            s = by.get((c.name, judge))
            if s is None:
                continue
            if kind is Kind.AB:
                ttd = f"{_minutes(s.ttd_median)} / {_minutes(s.ttd_p90)}"
                rows.append(f"| {c.name} | {judge} | {_pct(s.fail)} | {_pct(s.passed)} | {_pct(s.inconclusive)} | "
                            f"{ttd} | {_num(s.exposure_median)} |")
            else:
                interval = f" ({_pct(s.fail_low)}–{_pct(s.fail_high)})" if kind is Kind.AA else ""
                rows.append(f"| {c.name} | {judge} | {_pct(s.fail)}{interval} | {_pct(s.passed)} | "
                            f"{_pct(s.inconclusive)} | {_minutes(s.pass_median)} | {_pct(s.pass_within)} | "
                            f"{s.blame or '–'} | {s.runs} |")
    return rows


def plots(cells: list[Cell], summaries: list[Summary], folder: Path, suffix: str) -> list[str]:
    """Two PNGs: time to detect per regression cell and judge; A/A false-fail rate per cell and judge."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    by = _by(summaries)
    written = []
    for kind, field, title, name, log in (
        (Kind.AB, "ttd_median", "median time to detect, minutes after onset (31 = not within 30 min)", "ttd", False),
        (Kind.AA, "fail", "A/A false-fail rate over all looks (α = 0.01 dashed)", "false-fail", True),
    ):
        chosen = [c for c in cells if c.kind is kind]
        if not chosen:
            continue
        fig, ax = plt.subplots(figsize=(11, 0.45 * len(chosen) * len(JUDGE_ORDER) / 3 + 2))
        height = 0.8 / len(JUDGE_ORDER)
        for i, judge in enumerate(JUDGE_ORDER):
            raw = [getattr(by[(c.name, judge)], field) for c in chosen]
            values = [31.0 if v is None else v for v in raw]  # never detected: drawn past the horizon
            if log:
                values = [max(v, 1e-4) for v in values]
            ax.barh(np.arange(len(chosen)) + i * height, values, height, label=judge)
        ax.set_yticks(np.arange(len(chosen)) + 0.4 - height / 2, [c.name for c in chosen], fontsize=8)
        ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
            ax.axvline(ALPHA, linestyle="--", color="black")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = folder / f"quality-{name}-{suffix}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path.name)
    return written


def acceptance_lines(cells: list[Cell], summaries: list[Summary]) -> list[str]:
    """The acceptance checks this run measures, then the healthy canary's time to pass for every judge."""
    return [*acceptance.render(acceptance.checks(cells, summaries)),
            *acceptance.healthy_times(cells, summaries, JUDGE_ORDER)]


def write_markdown(path: Path, cells: list[Cell], summaries: list[Summary], mode: str, command: str,
                   seconds: float, images: list[str]) -> None:
    lines = [
        "# Decision-quality benchmark",
        "",
        f"Generated by `{command}` ({mode}: {len(cells)} cells, {seconds:.0f} s on this machine). Every judge sees",
        "the same simulated canaries (`analyzer/sources/simulate.py`, seeds recorded in the CSV",
        f"`docs/benchmarks-{mode}.csv`): arm-level cells, where every request is an independent trial, and",
        "production-shape cells, where requests spread over pods that differ, pod-minutes are bursty, counts",
        "come from 15 s scrapes through PromQL's `increase()` and new canary pods start cold",
        "(`bench/quality/grid.py` says what each cell switches on). Each judge is asked at every look it would",
        "be asked at: ours every minute, Kayenta-style every 5 minutes on the cumulative window, Argo's",
        "threshold checks every minute on that minute's data, the oracle SPRT and the mixture SPRT every",
        "minute. A run ends at its first fail (Argo aborts); a pass does not end the watch, so a false fail",
        "counts over all 30 looks, and the time to pass is the first look that said pass. 30 minutes",
        "without a pass is \"> 30 min\". Protocol: `bench/quality/` docstrings and research-statistics.md §6.",
        "",
        "## Summary",
        "",
        *headline(cells, summaries),
        "",
        "## Acceptance (issue 11)",
        "",
        *acceptance_lines(cells, summaries),
        "",
        "## Cells where our judge misses a target",
        "",
        *(misses(cells, summaries) or ["- none"]),
        "",
        "## A/A (no change): false fails",
        "",
        *table(cells, summaries, Kind.AA),
        "",
        "## Regressions: power, false passes, time to detect, exposure",
        "",
        *table(cells, summaries, Kind.AB),
        "",
        "## Improvements: wrongful aborts",
        "",
        *table(cells, summaries, Kind.IMPROVEMENT),
        "",
        *[f"![{name}](img/{name})" for name in images],
        "",
    ]
    path.write_text("\n".join(lines))
