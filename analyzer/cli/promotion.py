"""Promotion commands: candidates, promote, quarantine, approve, evidence, evaluate, status, audit, tokens, slo.

They work on the ledger named by the settings (``CANARY_ANALYZER_DATABASE_URL``) directly: whoever can
reach the database is an admin, and is recorded in the audit log as ``cli:<--actor>``. Teams and CI
use the HTTP API with role tokens instead (``token create``).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from analyzer.cli.common import app, fail, out, parse_duration
from analyzer.errors import ClusterError, InputError
from analyzer.promotion.junit import parse_junit
from analyzer.promotion.stages import load_pipeline
from analyzer.service import promotion as flow
from analyzer.service.analysis import connect
from analyzer.service.slo import stage_slos
from analyzer.settings import load_settings
from analyzer.store.tokens import create_token, list_tokens, revoke_token

candidate_app = typer.Typer(help="Register and inspect release candidates.", no_args_is_help=True)
evidence_app = typer.Typer(help="Attach evidence to a promotion attempt.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens with roles (viewer, operator, admin).", no_args_is_help=True)
app.add_typer(candidate_app, name="candidate")
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")
app.add_typer(token_app, name="token")

Actor = Annotated[str, typer.Option("--actor", help="who acts (recorded in the audit log)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


def _actor(name: str | None) -> str:
    return f"cli:{name or getpass.getuser()}"


def _promotions(dry_run: bool = False) -> flow.Promotions:
    def build() -> flow.Promotions:
        settings = load_settings()
        return flow.promotions_for(settings, connect(settings), dry_run)

    result: flow.Promotions = _run(build)
    return result


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except (InputError, ClusterError) as error:
        raise fail(str(error)) from None


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


@candidate_app.command("register")
def register_command(
    image: Annotated[list[str], typer.Option("--image", help="NAME=REPO@sha256:DIGEST (repeat per container)")],
    alias: Annotated[str | None, typer.Option(help="a human name, e.g. v1.4.2")] = None,
    fixes: Annotated[str | None, typer.Option(help="the quarantined candidate this one fixes")] = None,
    source: Annotated[list[str] | None, typer.Option(help="KEY=VALUE provenance (commit, ci_run, …)")] = None,
    actor: Actor = "",
) -> None:
    """Register a candidate (idempotent: the same images give the same id). Prints its id."""
    artifacts = []
    for item in image:
        name, sep, ref = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME=IMAGE")
        artifacts.append({"name": name, "image": ref})
    meta = dict(s.partition("=")[::2] for s in source or [])
    row = _run(lambda: flow.register(_promotions(), artifacts, _actor(actor), alias, fixes, meta))
    print(row.id)


@candidate_app.command("show")
def show_command(candidate: str, as_json: Json = False) -> None:
    """A candidate, its state and its attempts."""
    data = _run(lambda: flow.show_candidate(_promotions(), candidate))
    if as_json:
        _print(data)
        return
    out.print(f"[bold]{data['id']}[/] {data['alias'] or ''}  state [bold]{data['state']}[/]")
    for a in data["attempts"]:
        out.print(f"  {a['id']}  → {a['to_stage']:4} {a['kind']:8} {a['state']:10} {a['reason'] or ''}")


@app.command("promote")
def promote_command(
    candidate: str,
    to: Annotated[str | None, typer.Option("--to", help="the stage (default: the next one)")] = None,
    force: Annotated[bool, typer.Option(help="skip a stage: needs --justification and --second-approver")] = False,
    justification: Annotated[str | None, typer.Option()] = None,
    second_approver: Annotated[str | None, typer.Option()] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="retry-safe key, e.g. the CI run id")] = None,
    no_queue: Annotated[bool, typer.Option("--no-queue", help="fail (exit 4) if the stage is busy")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="record and plan; do not touch the Rollouts")] = False,
    actor: Actor = "",
) -> None:
    """Request a candidate's promotion: the attempt starts, or queues behind the stage's current one."""
    attempt = _run(lambda: flow.promote(_promotions(dry_run), candidate, to, _actor(actor), admin=True,
                                        idempotency_key=idempotency_key, force=force, justification=justification,
                                        second_approver=second_approver, queue=not no_queue))
    out.print(f"attempt {attempt.id}: {attempt.kind} → {attempt.to_stage}, {attempt.state}", highlight=False)


@app.command("quarantine")
def quarantine_command(
    candidate: str,
    reason: Annotated[str, typer.Option(help="why (required)")],
    code: Annotated[str, typer.Option(help="reason code")] = "manual",
    impact: Annotated[Path | None, typer.Option(help="a JSON file with your impact analysis")] = None,
    actor: Actor = "",
) -> None:
    """Quarantine a candidate: final; its attempts are cancelled; V2 rolls back if it was stable there."""
    analysis = json.loads(impact.read_text()) if impact else None
    row = _run(lambda: flow.quarantine(_promotions(), candidate, code, reason, _actor(actor), analysis))
    out.print(f"quarantined {row.candidate_id[:12]} ({row.reason_code}): {row.id}")
    _print(row.impact)


@app.command("approve")
def approve_command(
    attempt: str, comment: Annotated[str, typer.Option()] = "", actor: Actor = ""
) -> None:
    """Approve a promotion attempt (the requester's own approval does not count)."""
    who = _actor(actor)
    _run(lambda: flow.add_evidence(_promotions(), attempt, "approval", {"by": who, "comment": comment}, who))
    out.print(f"approved {attempt} as {who}")


@evidence_app.command("add")
def evidence_command(
    attempt: str,
    junit: Annotated[Path | None, typer.Option(help="a JUnit XML report")] = None,
    compat: Annotated[Path | None, typer.Option(help='a JSON report {"compatible": bool, "breaking": [...]}')] = None,
    judgment: Annotated[str | None, typer.Option(help="a recorded canary judgment id")] = None,
    actor: Actor = "",
) -> None:
    """Attach one piece of evidence to an attempt."""
    p, who = _promotions(), _actor(actor)
    if junit is not None:
        evidence_id = _run(lambda: flow.add_evidence(p, attempt, "junit", parse_junit(junit.read_text(), str(junit)),
                                                     who))
    elif compat is not None:
        evidence_id = _run(lambda: flow.add_evidence(p, attempt, "compat", json.loads(compat.read_text()), who))
    elif judgment is not None:
        evidence_id = _run(lambda: flow.add_judgment(p, attempt, judgment, who))
    else:
        raise typer.BadParameter("give --junit, --compat or --judgment")
    out.print(f"evidence {evidence_id}")


@app.command("evaluate")
def evaluate_command(attempt: str, actor: Actor = "") -> None:
    """Run the stage's gate on the attempt's evidence. Exit 0 pass, 1 fail, 3 waiting (inconclusive)."""
    row = _run(lambda: flow.evaluate(_promotions(), attempt, _actor(actor)))
    for check in row.checks:
        out.print(f"  {check['kind']:10} {check['verdict']:12} {check['reason']}", highlight=False)
    out.print(f"gate: [bold]{row.verdict}[/]")
    raise typer.Exit({"pass": 0, "fail": 1}.get(row.verdict, 3))


@audit_app.command("recompute")
def audit_recompute_command(evaluation: str) -> None:
    """Re-run a recorded gate evaluation from its stored policy and evidence; exit 1 if it differs."""
    result = _run(lambda: flow.recompute(_promotions(), evaluation))
    _print(result)
    raise typer.Exit(0 if result["same"] else 1)


@app.command("watch")
def watch_command(
    interval: Annotated[str, typer.Option(help="time between rounds")] = "1m",
    timeout: Annotated[str, typer.Option(help="give up after this long (exit 3)")] = "2h",
    once: Annotated[bool, typer.Option("--once", help="one round, then exit")] = False,
    actor: Actor = "",
) -> None:
    """Evaluate every running attempt each interval (following their Rollouts) until none is left."""
    import time

    deadline = time.monotonic() + parse_duration(timeout)
    p = _promotions()
    while True:
        running = _run(lambda: flow.running_attempts(p))
        if not running:
            out.print("no running attempts")
            raise typer.Exit(0)
        for attempt_id in running:
            row = _run(partial(flow.evaluate, p, attempt_id, _actor(actor)))
            out.print(f"{attempt_id}: {row.verdict}", highlight=False)
        if once:
            raise typer.Exit(0)
        if time.monotonic() > deadline:
            raise typer.Exit(3)
        time.sleep(parse_duration(interval))


@app.command("status")
def status_command(as_json: Json = False) -> None:
    """The pipeline: what runs in each stage, what is verifying and queued, quarantined candidates."""
    data = _run(lambda: flow.status(_promotions()))
    if as_json:
        _print(data)
        return
    table = Table("stage", "current", "verifying", "queued", "last good")
    for st in data["stages"]:
        verifying = f"{st['verifying']['candidate_id'][:12]} ({st['verifying']['id'][-6:]})" if st["verifying"] else "–"
        table.add_row(st["stage"], (st["current"] or "–")[:12], verifying, str(len(st["queued"])),
                      (st["last_good"] or "–")[:12])
    out.print(table)
    for q in data["quarantined"]:
        out.print(f"quarantined {q['candidate_id'][:12]}: {q['reason_code']} — {q['detail']}", highlight=False)


@audit_app.command("verify")
def audit_verify_command() -> None:
    """Re-walk the hash chain; exit 1 and name the first broken event if anything was changed."""
    result = _run(lambda: flow.verify_audit(_promotions()))
    out.print(result.detail, highlight=False)
    raise typer.Exit(0 if result.ok else 1)


@audit_app.command("log")
def audit_log_command(candidate: str | None = None, limit: int = 50) -> None:
    _print(_run(lambda: flow.audit_log(_promotions(), limit, candidate)))


@token_app.command("create")
def token_create(name: str, role: Annotated[str, typer.Option(help="viewer, operator or admin")] = "operator") -> None:
    """Create a token; it is printed once and stored only as a hash."""
    print(_run(lambda: create_token(_promotions().database, name, role, datetime.now(UTC))))


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    _run(lambda: revoke_token(_promotions().database, name, datetime.now(UTC)))
    out.print(f"revoked {name}")


@token_app.command("list")
def token_list() -> None:
    for t in _run(lambda: list_tokens(_promotions().database)):
        out.print(f"{t.name:20} {t.role:9} {'revoked' if t.revoked_at else 'active'}", highlight=False)


@app.command("slo")
def slo_command() -> None:
    """Per stage: error rate and p95 of the pods serving there, from Prometheus, against the SLO."""
    settings = load_settings()
    _print(_run(lambda: stage_slos(load_pipeline(settings.stages_file), connect(settings))))
