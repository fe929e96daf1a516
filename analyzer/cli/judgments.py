"""`canary-analyzer judgments list|show`: the canary judgments the service (and the gate) recorded.

Read-only: they never create a ledger (``release.connected``). ``show`` renders a recorded judgment as
`judge` renders a fresh one, in every ``-o`` format, so that a past AnalysisRun's look can be read,
attached to a ticket (markdown) or fed to CI (junit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from analyzer.cli.common import Format, OutputFile, Report, app, fail, print_names, printed_as_data, show, write
from analyzer.cli.offline import report_text
from analyzer.cli.release import connected, run

if TYPE_CHECKING:
    from analyzer.store import JudgmentRecord

judgments_app = typer.Typer(help="Recorded canary judgments: list them, show one.", no_args_is_help=True)
app.add_typer(judgments_app, name="judgments")


def _summary(record: JudgmentRecord) -> dict[str, object]:
    key = record.key
    return {"id": record.id, "created_at": record.created_at.isoformat(), "namespace": key.namespace,
            "rollout": key.rollout, "profile": key.profile, "canary": key.canary_hash, "stable": key.stable_hash,
            "verdict": record.verdict, "score": record.score, "steps": record.steps}


@judgments_app.command("list")
def list_command(
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="only this namespace's judgments")] = None,
    rollout: Annotated[str | None, typer.Option(help="only this Rollout's judgments")] = None,
    canary: Annotated[str | None, typer.Option(help="only this canary pod-template hash")] = None,
    verdict: Annotated[str | None, typer.Option(help="only pass, fail or inconclusive")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="the newest this many")] = 20,
    output: Annotated[Format, typer.Option("--output", "-o", help="table, wide, json, yaml or name")] = Format.TABLE,
) -> None:
    """The newest judgments first: when, which Rollout and canary, verdict, score, steps."""
    from rich.table import Table

    from analyzer.store.judgments import JudgmentFilter, list_judgments

    _, analyzer = connected(read_only=True)
    where = JudgmentFilter(namespace=namespace, rollout=rollout, canary_hash=canary, verdict=verdict, limit=limit)

    def query() -> list[JudgmentRecord]:
        with analyzer.database.session() as session:
            return list_judgments(session, where)

    records = run(query)
    if printed_as_data([_summary(r) for r in records], output):
        return
    if output is Format.NAME:
        print_names(r.id for r in records)
        return
    wide = output is Format.WIDE
    table = Table("id", "time (UTC)", "rollout", "verdict", "score", "steps", *(["canary", "stable"] if wide else []),
                  box=None, pad_edge=False)
    for r in records:
        row = [r.id if wide else r.id[:12], f"{r.created_at:%Y-%m-%d %H:%M:%S}", f"{r.key.namespace}/{r.key.rollout}",
               r.verdict, f"{r.score:g}", str(r.steps)]
        table.add_row(*row, *([r.key.canary_hash, r.key.stable_hash] if wide else []))
    show(table)


@judgments_app.command("show")
def show_command(
    judgment_id: Annotated[str, typer.Argument(help="the judgment's id (as the analysis endpoint returns it)",
                                               metavar="JUDGMENT")],
    output: Annotated[
        Report, typer.Option("--output", "-o", help="table, wide, json, yaml, markdown, junit or html")
    ] = Report.TABLE,
    output_file: OutputFile = None,
) -> None:
    """One recorded judgment, as `judge` shows a fresh one (html: its report page, as /reports/ID draws it)."""
    from analyzer.model import Judgment
    from analyzer.report import render
    from analyzer.store.judgments import get_judgment

    _, analyzer = connected(read_only=True)
    if output is Report.HTML:  # the page with its plots: drawn from the window's stored counts and policy
        from analyzer.service.reports import load_report, render_report

        report = run(lambda: load_report(analyzer.database, judgment_id))
        if report is None:
            raise fail(f"no judgment {judgment_id!r}")
        write(render_report(report), output_file)
        return

    def query() -> JudgmentRecord | None:
        with analyzer.database.session() as session:
            return get_judgment(session, judgment_id)

    record = run(query)
    if record is None:
        raise fail(f"no judgment {judgment_id!r}")
    judgment = Judgment.model_validate(record.body)
    if output in (Report.TABLE, Report.WIDE):
        show(render(judgment, wide=output is Report.WIDE), output_file)
    else:
        write(report_text(judgment, output, f"canary-judgment {record.key.namespace}/{record.key.rollout}"),
              output_file)


@judgments_app.command("prune")
def prune_command(
    older_than: Annotated[str, typer.Option(help="delete judgments older than this, e.g. 30d, 12h")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count only; delete nothing")] = False,
    output: Annotated[Format, typer.Option("--output", "-o", help="name (the count alone), json or yaml")] = (
        Format.NAME
    ),
) -> None:
    """Delete old judgments, keeping those promotion evidence references (run it from a CronJob)."""
    from datetime import UTC, datetime, timedelta

    from analyzer.cli.common import err, parse_duration
    from analyzer.service.retention import prune_judgments

    seconds = parse_duration(older_than)
    _, analyzer = connected(read_only=True)
    before = datetime.now(UTC) - timedelta(seconds=seconds)
    pruned = run(lambda: prune_judgments(analyzer.database, before, dry_run))
    counts = {"deleted": pruned.deleted, "kept_as_evidence": pruned.kept_as_evidence, "dry_run": dry_run,
              "older_than": older_than, "before": before.isoformat()}
    if not printed_as_data(counts, output):
        print(pruned.deleted)
    verb = "would delete" if dry_run else "deleted"
    err.print(f"{verb} {pruned.deleted} judgments older than {older_than}; kept {pruned.kept_as_evidence} that "
              "promotion evidence references", highlight=False)
