"""`canary-analyzer gate`: judge a live canary from CI, act on the verdict, report, exit 0/1/3/4."""

from __future__ import annotations

import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from analyzer.cli.common import EXIT, Context, Kubeconfig, Namespace, app, fail, out, parse_duration
from analyzer.errors import ClusterError, InputError, SourceUnavailableError
from analyzer.report import render, render_junit, render_junit_error, render_markdown
from analyzer.report.table import STYLE
from analyzer.rollouts import Kube, RolloutStatus
from analyzer.service.analysis import Analysis, StoreUnavailableError, check_settings, connect
from analyzer.service.gate import GateOutcome, GatePlan, OnFail, OnInconclusive, OnPass, run_gate
from analyzer.settings import load_settings


class GateOutput(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    JUNIT = "junit"


def _markdown(plan: GatePlan, outcome: GateOutcome) -> str:
    head = (
        f"## Canary gate `{plan.namespace}/{plan.rollout}`: **{outcome.verdict.value}** → {outcome.action}\n\n"
        f"{outcome.reason} ({len(outcome.looks)} looks, profile `{plan.profile}`)\n\n"
    )
    return head + (render_markdown(outcome.judgment) if outcome.judgment else "")


def _json(plan: GatePlan, outcome: GateOutcome) -> str:
    body = {
        "namespace": plan.namespace,
        "rollout": plan.rollout,
        "verdict": outcome.verdict.value,
        "reason": outcome.reason,
        "action": outcome.action,
        "looks": len(outcome.looks),
        "canary": outcome.status.canary_hash if outcome.status else None,
        "stable": outcome.status.stable_hash if outcome.status else None,
        "judgment": outcome.judgment.model_dump(mode="json") if outcome.judgment else None,
        "judgment_ids": [look.record.id for look in outcome.looks],
    }
    return json.dumps(body, indent=2)


def _junit(plan: GatePlan, outcome: GateOutcome, elapsed: float) -> str:
    suite = f"canary-gate {plan.namespace}/{plan.rollout}"
    if outcome.judgment is None:
        return render_junit_error(suite, outcome.reason, elapsed)
    return render_junit(outcome.judgment, suite, elapsed)


def _live_table(plan: GatePlan, looks: list[Analysis], status: RolloutStatus | None) -> Table:
    title = f"gate {plan.namespace}/{plan.rollout} — look {len(looks)}"
    if status is not None:
        title += f", canary {status.canary_hash} at {status.set_weight}% ({status.phase})"
    table = Table(title=title, title_justify="left")
    for column in ("metric", "verdict", "canary", "stable", "ratio", "why"):
        table.add_column(column)
    if looks:
        for m in looks[-1].judgment.metrics:
            est = m.estimate
            table.add_row(m.name, Text(m.verdict.value, style=STYLE[m.verdict]),
                          f"{est.canary:.4g}" if est.canary is not None else "–",
                          f"{est.stable:.4g}" if est.stable is not None else "–",
                          f"{est.ratio:.3g}" if est.ratio is not None else "–", m.reason)
    return table


@app.command("gate")
def gate_command(
    rollout: Annotated[str, typer.Argument(help="the Rollout whose canary to judge")],
    namespace: Namespace = None,
    profile: Annotated[str, typer.Option("--profile", "-p", help="query profile")] = "http",
    timeout: Annotated[str, typer.Option(help="give up undecided after this long")] = "30m",
    interval: Annotated[str, typer.Option(help="time between looks")] = "1m",
    on_pass: Annotated[OnPass, typer.Option(help="what to do on pass")] = OnPass.PROMOTE,
    on_fail: Annotated[OnFail, typer.Option(help="what to do on fail")] = OnFail.ABORT,
    on_inconclusive: Annotated[OnInconclusive, typer.Option(help="at the timeout")] = OnInconclusive.PAUSE,
    output: Annotated[GateOutput, typer.Option("--output", "-o")] = GateOutput.TABLE,
    output_file: Annotated[Path | None, typer.Option(help="write the report here instead of stdout")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="settings YAML (Prometheus, database)")] = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Wait for the canary, judge it every interval, act, report. Exit 0 pass, 1 fail, 3 inconclusive, 4 error."""
    try:
        settings = load_settings(config)
        check_settings(settings)
        kube = Kube(context=context, kubeconfig=kubeconfig)
        analyzer = connect(settings)
    except (InputError, ClusterError) as error:
        raise fail(str(error)) from None
    plan = GatePlan(
        namespace=namespace or kube.namespace,
        rollout=rollout,
        profile=profile,
        timeout_seconds=parse_duration(timeout),
        interval_seconds=parse_duration(interval),
        on_pass=on_pass,
        on_fail=on_fail,
        on_inconclusive=on_inconclusive,
    )
    started = time.monotonic()
    looks: list[Analysis] = []
    live = Live(_live_table(plan, looks, None), console=out, transient=True) if out.is_terminal else None

    def on_look(look: Analysis, status: RolloutStatus) -> None:
        looks.append(look)
        if live is not None:
            live.update(_live_table(plan, looks, status))

    try:
        if live is not None:
            live.start()
        outcome = run_gate(plan, analyzer, kube, on_look=on_look)
    except (SourceUnavailableError, StoreUnavailableError, ClusterError, InputError) as error:
        raise fail(f"{error} (nothing was changed on the Rollout)") from None
    finally:
        if live is not None:
            live.stop()
    markdown = _markdown(plan, outcome)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")
    elapsed = time.monotonic() - started
    if output is GateOutput.TABLE and output_file is None:
        decision = f" → {outcome.action}: {outcome.reason}"
        out.print(Text.assemble((outcome.verdict.value, STYLE[outcome.verdict]), decision))
        if outcome.judgment:
            out.print(render(outcome.judgment))
    else:
        text = {
            GateOutput.JSON: lambda: _json(plan, outcome),
            GateOutput.MARKDOWN: lambda: markdown,
            GateOutput.JUNIT: lambda: _junit(plan, outcome, elapsed),
            GateOutput.TABLE: lambda: _markdown(plan, outcome),
        }[output]()
        if output_file is not None:
            output_file.write_text(text, encoding="utf-8")
        else:
            print(text)
    raise typer.Exit(EXIT[outcome.verdict])
