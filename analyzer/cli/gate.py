"""`canary-analyzer gate`: judge a live canary from CI, act on the verdict, report, exit 0/1/3/4."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from analyzer.cli.common import (
    EXIT,
    Config,
    Context,
    Kubeconfig,
    Namespace,
    OutputFile,
    Report,
    app,
    dump,
    fail,
    out,
    parse_duration,
    show,
    write,
)

if TYPE_CHECKING:
    from rich.table import Table

    from analyzer.rollouts import RolloutStatus
    from analyzer.service.analysis import Analysis
    from analyzer.service.gate import GateOutcome, GatePlan

#: The service's OnPass, OnFail and OnInconclusive by value (a test keeps them equal).
OnPassChoice = Literal["promote", "promote-full", "none"]
OnFailChoice = Literal["abort", "undo", "none"]
OnInconclusiveChoice = Literal["pause", "abort", "none"]


def _markdown(plan: GatePlan, outcome: GateOutcome) -> str:
    from analyzer.report import render_markdown

    head = (
        f"## Canary gate `{plan.namespace}/{plan.rollout}`: **{outcome.verdict.value}** → {outcome.action}\n\n"
        f"{outcome.reason} ({len(outcome.looks)} looks, profile `{plan.profile}`)\n\n"
    )
    return head + (render_markdown(outcome.judgment) if outcome.judgment else "")


def _record(plan: GatePlan, outcome: GateOutcome) -> dict[str, object]:
    return {
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


def _junit(plan: GatePlan, outcome: GateOutcome, elapsed: float) -> str:
    from analyzer.report import render_junit, render_junit_error

    suite = f"canary-gate {plan.namespace}/{plan.rollout}"
    if outcome.judgment is None:
        return render_junit_error(suite, outcome.reason, elapsed)
    return render_junit(outcome.judgment, suite, elapsed)


def _live_table(plan: GatePlan, looks: list[Analysis], status: RolloutStatus | None) -> Table:
    """The latest look's metrics, under a title that says which look (1-based) and where the canary is."""
    from rich.table import Table

    from analyzer.report import judgment_table

    title = f"gate {plan.namespace}/{plan.rollout}, look {len(looks)}"
    if status is not None:
        title += f": canary {status.canary_hash} at {status.set_weight}% ({status.phase})"
    if not looks:
        return Table(title=title + ", waiting for the first look", title_justify="left")
    return judgment_table(looks[-1].judgment, title=title)


@app.command("gate")
def gate_command(
    rollout: Annotated[str, typer.Argument(help="the Rollout whose canary to judge", metavar="ROLLOUT")],
    namespace: Namespace = None,
    profile: Annotated[str, typer.Option("--profile", "-p", help="query profile")] = "http",
    timeout: Annotated[str, typer.Option(help="give up undecided after this long")] = "30m",
    interval: Annotated[str, typer.Option(help="time between looks")] = "1m",
    on_pass: Annotated[OnPassChoice, typer.Option(help="what to do on pass")] = "promote",
    on_fail: Annotated[OnFailChoice, typer.Option(help="what to do on fail")] = "abort",
    on_inconclusive: Annotated[OnInconclusiveChoice, typer.Option(help="what to do at the timeout")] = "pause",
    output: Annotated[
        Report, typer.Option("--output", "-o", help="table, wide, json, yaml, markdown, junit or html")
    ] = Report.TABLE,
    output_file: OutputFile = None,
    config: Config = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Wait for the canary, judge it every interval, act, report. Exit 0 pass, 1 fail, 3 inconclusive, 4 error."""
    from rich.live import Live
    from rich.text import Text

    from analyzer.errors import ClusterError, InputError, SourceUnavailableError
    from analyzer.report import render
    from analyzer.report.table import STYLE
    from analyzer.rollouts import Kube
    from analyzer.service.analysis import StoreUnavailableError, check_settings, connect
    from analyzer.service.gate import GatePlan, OnFail, OnInconclusive, OnPass, run_gate
    from analyzer.settings import load_settings

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
        on_pass=OnPass(on_pass),
        on_fail=OnFail(on_fail),
        on_inconclusive=OnInconclusive(on_inconclusive),
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
    if output in (Report.TABLE, Report.WIDE):
        decision = Text.assemble((outcome.verdict.value, STYLE[outcome.verdict]), f" → {outcome.action}: ",
                                 outcome.reason)
        wide = output is Report.WIDE
        show(decision if outcome.judgment is None else render(outcome.judgment, wide, head=decision), output_file)
    elif output is Report.MARKDOWN:
        write(markdown, output_file)
    elif output is Report.JUNIT:
        write(_junit(plan, outcome, time.monotonic() - started), output_file)
    elif output is Report.HTML and outcome.judgment is not None:  # the last look's page; its plots: judgments show
        from analyzer.report.html import render_html

        write(render_html(outcome.judgment), output_file)
    else:
        write(dump(_record(plan, outcome), output.value), output_file)
    raise typer.Exit(EXIT[outcome.verdict])
