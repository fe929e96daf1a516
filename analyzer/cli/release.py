"""`canary-analyzer release …`: a candidate's way through V1 → V3 → V2 (register, promote, evaluate, …).

They work on the ledger named by the settings (``CANARY_ANALYZER_DATABASE_URL``) directly: whoever can
reach the database is an admin, and is recorded in the audit log as ``cli:<--actor>``. Teams and CI
use the HTTP API with role tokens instead (``token create``). A forced promotion is the exception: it
names its requester and its confirming approver by their tokens (``--token`` or ``CANARY_ANALYZER_TOKEN``),
two different identities, as over the API.

Output: a command that changes something prints the id it created alone on stdout (``id=$(…)`` works)
and a sentence on stderr; ``-o json|yaml`` prints the whole record instead. Read-only commands never
create a ledger: they fail (exit 4) when it does not exist. Every id a command takes (candidate, attempt,
evaluation, judgment) may be shortened to a unique prefix of 8 or more characters; an ambiguous prefix
is refused with the ids it matches (exit 4).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from analyzer.cli.common import Format, app, dump, err, fail, out, parse_duration, print_names, printed_as_data, show

if TYPE_CHECKING:
    from analyzer.service.analysis import Analyzer
    from analyzer.service.promotion import Promotions
    from analyzer.settings import Settings
    from analyzer.store.tokens import Identity

release_app = typer.Typer(help="Release candidates through the V1 → V3 → V2 stages: gates, quarantine, rollback.",
                          no_args_is_help=True)
app.add_typer(release_app, name="release")

T = TypeVar("T")
Actor = Annotated[str, typer.Option("--actor", help="who acts (recorded in the audit log) [default: your login]")]
Output = Annotated[Format, typer.Option("--output", "-o", help="table, json, yaml or name")]
Candidate = Annotated[
    str, typer.Argument(help="candidate id (or a unique prefix of 8+ characters)", metavar="CANDIDATE")
]
Attempt = Annotated[
    str, typer.Argument(help="promotion attempt id (or a unique prefix of 8+ characters)", metavar="ATTEMPT")
]
Token = Annotated[str | None, typer.Option(envvar="CANARY_ANALYZER_TOKEN", show_envvar=True,
                                           help="your API token (`token create`): who you are")]


def actor_of(name: str | None) -> str:
    return f"cli:{name or getpass.getuser()}"


def run(action: Callable[[], T]) -> T:
    """The action's result; its refusal (bad input, missing row, cluster error) is one line and exit 4."""
    from analyzer.errors import ClusterError, InputError

    try:
        return action()
    except (InputError, ClusterError) as error:
        raise fail(str(error)) from None


def connected(read_only: bool = False) -> tuple[Settings, Analyzer]:
    """The settings and their ledger. ``read_only``: a SQLite ledger that does not exist is not created."""

    def build() -> tuple[Settings, Analyzer]:
        from analyzer.errors import InputError
        from analyzer.service.analysis import connect
        from analyzer.settings import load_settings
        from analyzer.store.db import Database

        settings = load_settings()
        path = Database(settings.database_url).sqlite_path
        if read_only and path is not None and not path.exists():
            raise InputError(f"no ledger at {path}: nothing has been recorded there "
                             "(CANARY_ANALYZER_DATABASE_URL names the ledger)")
        return settings, connect(settings)

    return run(build)


def promotions(dry_run: bool = False, read_only: bool = False) -> Promotions:
    """The promotion flow on the settings' ledger (see ``connected``)."""
    from analyzer.service import promotion as flow

    settings, analyzer = connected(read_only)
    return run(lambda: flow.promotions_for(settings, analyzer, dry_run))


def emit(record: dict[str, Any], output: Format, created: str, sentence: str) -> None:
    """What a changing command prints: the created id (stderr: the sentence), or the whole record."""
    if printed_as_data(record, output):
        return
    print(created)
    err.print(sentence, highlight=False)


@release_app.command("register")
def register_command(
    image: Annotated[list[str], typer.Option("--image", help="NAME=REPO@sha256:DIGEST (repeat per container)")],
    alias: Annotated[str | None, typer.Option(help="a human name, e.g. v1.4.2")] = None,
    fixes: Annotated[str | None, typer.Option(help="the quarantined candidate this one fixes")] = None,
    source: Annotated[list[str] | None, typer.Option(help="KEY=VALUE provenance (commit, ci_run, …)")] = None,
    actor: Actor = "",
    output: Output = Format.NAME,
) -> None:
    """Register a candidate (idempotent: the same images give the same id). Prints its id."""
    from analyzer.service import promotion as flow

    artifacts = []
    for item in image:
        name, sep, ref = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME=IMAGE")
        artifacts.append({"name": name, "image": ref})
    meta = dict(s.partition("=")[::2] for s in source or [])
    row = run(lambda: flow.register(promotions(), artifacts, actor_of(actor), alias, fixes, meta))
    emit(flow.candidate_view(row), output, row.id, f"candidate {row.id[:12]} registered ({row.state})")


@release_app.command("show")
def show_command(candidate: Candidate, output: Output = Format.TABLE) -> None:
    """A candidate, its state and its attempts (ids, stages, states)."""
    from rich.table import Table

    from analyzer.service import promotion as flow

    data = run(lambda: flow.show_candidate(promotions(read_only=True), candidate))
    if printed_as_data(data, output):
        return
    if output is Format.NAME:
        print(data["id"])
        return
    out.print(f"[bold]{data['id']}[/] {data['alias'] or ''}  state [bold]{data['state']}[/]", highlight=False)
    table = Table("attempt", "to", "kind", "state", "reason", box=None, pad_edge=False)
    for a in data["attempts"]:
        table.add_row(a["id"], a["to_stage"], a["kind"], a["state"], a["reason"] or "")
    show(table)


@release_app.command("attempt")
def attempt_command(attempt: Attempt, output: Output = Format.TABLE) -> None:
    """An attempt: its evidence and its gate evaluations (the ids `audit recompute` takes)."""
    from rich.table import Table

    from analyzer.service import promotion as flow

    data = run(lambda: flow.show_attempt(promotions(read_only=True), attempt))
    if printed_as_data(data, output):
        return
    out.print(f"[bold]{data['id']}[/] {data['kind']} → {data['to_stage']}  state [bold]{data['state']}[/]",
              highlight=False)
    table = Table("record", "id", "what", box=None, pad_edge=False)
    for e in data["evidence"]:
        table.add_row("evidence", e["id"], e["kind"])
    for v in data["evaluations"]:
        table.add_row("evaluation", v["id"], f"{v['verdict']} at {v['evaluated_at']}")
    show(table)


@release_app.command("promote")
def promote_command(
    candidate: Candidate,
    to: Annotated[str | None, typer.Option("--to", help="the stage [default: the next one]")] = None,
    force: Annotated[bool, typer.Option(help="skip a stage: needs --justification, an admin --token, then "
                                             "`release confirm` by another approver")] = False,
    justification: Annotated[str | None, typer.Option(help="why a forced promotion is needed")] = None,
    token: Token = None,
    idempotency_key: Annotated[str | None, typer.Option(help="retry-safe key, e.g. the CI run id")] = None,
    no_queue: Annotated[bool, typer.Option("--no-queue", help="fail (exit 4) if the stage is busy")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="record and plan; do not touch the Rollouts")] = False,
    actor: Actor = "",
    output: Output = Format.NAME,
) -> None:
    """Request a candidate's promotion: the attempt starts, or queues behind the stage's current one."""
    from analyzer.service import promotion as flow

    p = promotions(dry_run)
    requester, admin = actor_of(actor), True
    if force:  # the requester of a forced promotion is a token's identity, never free text
        identity = token_identity(p, token, "admin")
        requester, admin = identity.actor, identity.role == "admin"
    row = run(lambda: flow.promote(p, candidate, to, requester, admin=admin, idempotency_key=idempotency_key,
                                   force=force, justification=justification, queue=not no_queue))
    emit(flow.attempt_view(row), output, row.id, f"attempt {row.id}: {row.kind} → {row.to_stage}, {row.state}")


@release_app.command("confirm")
def confirm_command(
    attempt: Attempt,
    token: Token = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="record and plan; do not touch the Rollouts")] = False,
    output: Output = Format.NAME,
) -> None:
    """Confirm another identity's forced promotion (the second person): needs an approver's --token."""
    from analyzer.service import promotion as flow

    p = promotions(dry_run)
    identity = token_identity(p, token, "approver")
    row = run(lambda: flow.confirm(p, attempt, identity.actor))
    emit(flow.attempt_view(row), output, row.id, f"attempt {row.id} confirmed by {identity.actor}: {row.state}")


def token_identity(p: Promotions, token: str | None, needed: str) -> Identity:
    """The identity of ``token`` in the ledger, with at least the ``needed`` role (else exit 4)."""
    from analyzer.store.tokens import allows, identify

    if not token:
        raise fail(f"this needs a token with the {needed} role: --token or CANARY_ANALYZER_TOKEN")
    identity = identify(p.database, token)
    if identity is None:
        raise fail("unknown or revoked token")
    if not allows(identity.role, needed) or identity.namespaces is not None:
        raise fail(f"token {identity.name!r} has role {identity.role}; this needs an unscoped {needed}")
    return identity


@release_app.command("quarantine")
def quarantine_command(
    candidate: Candidate,
    reason: Annotated[str, typer.Option(help="why (required)")],
    code: Annotated[str, typer.Option(help="reason code")] = "manual",
    impact: Annotated[Path | None, typer.Option(help="a JSON file with your impact analysis")] = None,
    actor: Actor = "",
    output: Output = Format.NAME,
) -> None:
    """Quarantine a candidate: final; its attempts are cancelled; V2 rolls back if it was stable there."""
    import json

    from analyzer.service import promotion as flow

    analysis = json.loads(impact.read_text()) if impact else None
    row = run(lambda: flow.quarantine(promotions(), candidate, code, reason, actor_of(actor), analysis))
    emit(flow.quarantine_view(row), output, row.id,
         f"quarantined {row.candidate_id[:12]} ({row.reason_code}): {row.id}; -o json shows the impact")


def _evidence(attempt: str, kind: str, payload: Callable[[], dict[str, Any]], actor: str, output: Format) -> None:
    from analyzer.service import promotion as flow

    who = actor_of(actor)
    _attached(lambda p: flow.add_evidence(p, attempt, kind, payload(), who), output)


def _attached(attach: Callable[[Promotions], str], output: Format) -> None:
    """Attach evidence; print its id (or, with -o json|yaml, the stored record)."""
    from analyzer.service import promotion as flow

    p = promotions()
    record = run(lambda: flow.show_evidence(p, attach(p)))
    emit(record, output, record["id"], f"{record['kind']} evidence {record['id']} attached to {record['attempt_id']}")


@release_app.command("approve")
def approve_command(
    attempt: Attempt,
    comment: Annotated[str, typer.Option(help="recorded with the approval")] = "",
    actor: Actor = "",
    output: Output = Format.NAME,
) -> None:
    """Approve a promotion attempt (the requester's own approval does not count)."""
    _evidence(attempt, "approval", lambda: {"by": actor_of(actor), "comment": comment}, actor, output)


@release_app.command("evidence")
def evidence_command(
    attempt: Attempt,
    junit: Annotated[Path | None, typer.Option(help="a JUnit XML report")] = None,
    compat: Annotated[Path | None, typer.Option(help='a JSON report {"compatible": bool, "breaking": [...]}')] = None,
    judgment: Annotated[str | None, typer.Option(help="a recorded canary judgment id (or a unique prefix)")] = None,
    actor: Actor = "",
    output: Output = Format.NAME,
) -> None:
    """Attach one piece of evidence to an attempt: a JUnit report, a compatibility report or a judgment."""
    import json

    from analyzer.promotion.junit import parse_junit
    from analyzer.service import promotion as flow

    if judgment is not None:
        _attached(lambda p: flow.add_judgment(p, attempt, judgment, actor_of(actor)), output)
    elif junit is not None:
        _evidence(attempt, "junit", lambda: parse_junit(junit.read_text(), str(junit)), actor, output)
    elif compat is not None:
        _evidence(attempt, "compat", lambda: json.loads(compat.read_text()), actor, output)
    else:
        raise typer.BadParameter("give --junit, --compat or --judgment")


@release_app.command("evaluate")
def evaluate_command(attempt: Attempt, actor: Actor = "", output: Output = Format.TABLE) -> None:
    """Run the stage's gate on the attempt's evidence. Exit 0 pass, 1 fail, 3 waiting (inconclusive)."""
    from rich.table import Table

    from analyzer.service import promotion as flow

    row = run(lambda: flow.evaluate(promotions(), attempt, actor_of(actor)))
    record = flow.evaluation_view(row)
    if output is Format.NAME:
        print(row.id)
    elif not printed_as_data(record, output):
        table = Table("check", "verdict", "reason", box=None, pad_edge=False)
        for check in row.checks:
            table.add_row(check["kind"], check["verdict"], check["reason"])
        show(table)
        out.print(f"gate: [bold]{row.verdict}[/] (evaluation {row.id})", highlight=False)
    raise typer.Exit({"pass": 0, "fail": 1}.get(row.verdict, 3))


@release_app.command("watch")
def watch_command(
    interval: Annotated[str, typer.Option(help="time between rounds")] = "1m",
    timeout: Annotated[str, typer.Option(help="give up after this long (exit 3)")] = "2h",
    once: Annotated[bool, typer.Option("--once", help="one round, then exit")] = False,
    actor: Actor = "",
) -> None:
    """Evaluate every running attempt each interval (following their Rollouts) until none is left."""
    import time

    from analyzer.service import promotion as flow

    deadline = time.monotonic() + parse_duration(timeout)
    p = promotions()
    while True:
        running = run(lambda: flow.running_attempts(p))
        if not running:
            out.print("no running attempts")
            raise typer.Exit(0)
        for attempt_id in running:
            row = run(partial(flow.evaluate, p, attempt_id, actor_of(actor)))
            out.print(f"{attempt_id}: {row.verdict} (evaluation {row.id})", highlight=False)
        if once:
            raise typer.Exit(0)
        if time.monotonic() > deadline:
            raise typer.Exit(3)
        time.sleep(parse_duration(interval))


@release_app.command("status")
def status_command(output: Output = Format.TABLE) -> None:
    """The pipeline: what runs in each stage, what is verifying and queued, quarantined candidates."""
    from rich.table import Table

    from analyzer.service import promotion as flow

    data = run(lambda: flow.status(promotions(read_only=True)))
    if printed_as_data(data, output):
        return
    if output is Format.NAME:  # the candidate running in each stage
        print_names(st["current"] for st in data["stages"] if st["current"])
        return
    table = Table("stage", "current", "verifying (attempt)", "queued", "last good", box=None, pad_edge=False)
    for st in data["stages"]:
        verifying = f"{st['verifying']['candidate_id'][:12]} ({st['verifying']['id']})" if st["verifying"] else "–"
        table.add_row(st["stage"], (st["current"] or "–")[:12], verifying, str(len(st["queued"])),
                      (st["last_good"] or "–")[:12])
    show(table)
    for q in data["quarantined"]:
        out.print(f"quarantined {q['candidate_id'][:12]}: {q['reason_code']} — {q['detail']}", highlight=False)


@release_app.command("slo")
def slo_command(
    output: Annotated[Format, typer.Option("--output", "-o", help="json or yaml")] = Format.JSON,
) -> None:
    """Per stage: error rate and p95 of the pods serving there, from Prometheus, against the SLO."""
    from analyzer.promotion.stages import load_pipeline
    from analyzer.service.slo import stage_slos

    settings, analyzer = connected(read_only=True)
    data = run(lambda: stage_slos(load_pipeline(settings.stages_file), analyzer))
    print(dump(data, "yaml" if output is Format.YAML else "json"), end="")
