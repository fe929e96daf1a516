"""`canary-analyzer audit …` and `token …`: the ledger's audit chain and the API's role tokens.

Same conventions as ``release``: read-only commands (``audit verify|log|recompute``, ``token list``)
never create a ledger; ``token create`` prints the token alone on stdout (it is shown once).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer.cli.common import Format, app, dump, err, fail, out, print_names, printed_as_data, show
from analyzer.cli.release import Output, connected, promotions, run

audit_app = typer.Typer(help="The hash-chained audit log: verify it, read it, re-run an evaluation.",
                        no_args_is_help=True)
token_app = typer.Typer(help="API tokens with roles (viewer < analysis < operator < approver < admin) and an "
                             "optional namespace scope.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(token_app, name="token")

TokenName = Annotated[str, typer.Argument(help="the token's name, e.g. the team or pipeline using it", metavar="NAME")]


@audit_app.command("verify")
def audit_verify_command(
    checkpoint: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="a file `audit checkpoint` wrote: also detect truncation and rewrites"
    )] = None,
    output: Output = Format.TABLE,
) -> None:
    """Re-walk the hash chain; exit 1 and name the first broken event if anything was changed."""
    from analyzer.service import promotion as flow

    anchor = _read_checkpoint(checkpoint) if checkpoint else None
    settings, _ = connected(read_only=True)
    key = settings.audit_key.get_secret_value().encode() if settings.audit_key else None
    result = run(lambda: flow.verify_audit(promotions(read_only=True), anchor, key))
    verdict = {"intact": result.ok, "events": result.events, "first_break": result.first_break,
               "detail": result.detail, "checkpoint": str(checkpoint) if checkpoint else None}
    if not printed_as_data(verdict, output) and output is not Format.NAME:  # name: the exit code says it
        out.print(result.detail, highlight=False)
    raise typer.Exit(0 if result.ok else 1)


@audit_app.command("checkpoint")
def audit_checkpoint_command(
    output: Annotated[Format, typer.Option("--output", "-o", help="json (one line: the file `audit verify` reads)"
                                           " or yaml")] = Format.JSON,
) -> None:
    """Print a signed checkpoint of the chain (JSON: count, head hash, time, HMAC with audit_key), to keep
    outside the database (a file, a ConfigMap, shipped logs): `audit verify --checkpoint` checks it."""
    from analyzer.service import promotion as flow

    settings, _ = connected(read_only=True)
    if settings.audit_key is None:
        raise fail("audit checkpoint needs the audit key: set audit_key (CANARY_ANALYZER_AUDIT_KEY)")
    if output not in (Format.JSON, Format.YAML):
        raise fail(f"audit checkpoint writes json or yaml, not {output.value}", code=2)
    key = settings.audit_key.get_secret_value().encode()
    checkpoint = run(lambda: flow.checkpoint_audit(promotions(read_only=True), key))
    if output is Format.JSON:
        print(json.dumps(checkpoint, sort_keys=True))  # one line, as `audit verify --checkpoint` reads it
    else:
        print(dump(checkpoint, "yaml"), end="")


def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        anchor = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise fail(f"{path}: not a checkpoint: {error}") from None
    if not isinstance(anchor, dict):
        raise fail(f"{path}: not a checkpoint")
    return anchor


@audit_app.command("log")
def audit_log_command(
    candidate: Annotated[str | None, typer.Option(help="only this candidate's events (an id prefix)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="the newest this many events")] = 50,
    output: Output = Format.TABLE,
) -> None:
    """The audit events, oldest first: who did what to which candidate, and why."""
    from rich.console import Group
    from rich.text import Text

    from analyzer.service import promotion as flow

    events = run(lambda: flow.audit_log(promotions(read_only=True), limit, candidate))
    if printed_as_data(events, output):
        return
    if output is Format.NAME:
        print_names(str(e["event_id"]) for e in events)
        return
    # An event a line (seq, UTC time, actor, action, candidate, stage), its reason wrapped on the next:
    # 80 columns never cut the reason.
    lines = []
    for e in events:
        when = str(e["ts"])[:19].replace("T", " ")
        lines.append(Text(f"{e['seq']:>4}  {when}  {e['actor']}  {e['action']}  {(e['candidate_id'] or '–')[:12]}"
                          f"  {e['stage'] or '–'}", overflow="fold"))
        if e["reason"]:
            lines.append(Text(f"      ↳ {e['reason']}", style="dim"))
    show(Group(*lines))


@audit_app.command("recompute")
def audit_recompute_command(
    evaluation: Annotated[str, typer.Argument(
        help="a gate evaluation id, or a unique prefix of 8+ characters (`release evaluate` prints it)",
        metavar="EVALUATION")],
    output: Output = Format.TABLE,
) -> None:
    """Re-run a recorded gate evaluation from its stored policy and evidence; exit 1 if it differs."""
    from analyzer.service import promotion as flow

    result = run(lambda: flow.recompute(promotions(read_only=True), evaluation))
    if not printed_as_data(result, output):
        if result["recomputable"]:
            out.print(f"evaluation {result['evaluation_id']}: {'the same' if result['same'] else 'DIFFERENT'} "
                      f"({result['verdict']} recorded, {result['recomputed']} now)", highlight=False)
        else:
            out.print(f"evaluation {result['evaluation_id']}: not recomputable: {result['reason']}", highlight=False)
    raise typer.Exit(0 if result["same"] else 1)


@token_app.command("create")
def token_create(
    name: TokenName,
    role: Annotated[str, typer.Option(help="viewer, analysis, operator, approver or admin")] = "operator",
    namespace: Annotated[list[str] | None, typer.Option(
        "--namespace", "-n", help="scope: only these namespaces' canaries (repeatable; default: all)"
    )] = None,
    output: Output = Format.NAME,
) -> None:
    """Create a token; it is printed once (stdout: the token alone, or with -o json|yaml the record with it)
    and stored only as a hash."""
    from analyzer.store.tokens import create_token

    _, analyzer = connected()
    token = run(lambda: create_token(analyzer.database, name, role, datetime.now(UTC), namespace))
    if not printed_as_data({"name": name, "role": role, "namespaces": namespace or [], "token": token}, output):
        print(token)
    scope = f", namespaces {', '.join(namespace)}" if namespace else ""
    err.print(f"token {name} created ({role}{scope}); it is not shown again", highlight=False)


@token_app.command("revoke")
def token_revoke(name: TokenName, output: Output = Format.NAME) -> None:
    """Revoke a token: requests that carry it are refused from now on."""
    from analyzer.store.tokens import revoke_token

    _, analyzer = connected(read_only=True)
    run(lambda: revoke_token(analyzer.database, name, datetime.now(UTC)))
    if not printed_as_data({"name": name, "revoked": True}, output):
        print(name)
    err.print(f"token {name} revoked", highlight=False)


@token_app.command("list")
def token_list(output: Output = Format.TABLE) -> None:
    """The tokens: name, role, active or revoked (never the token itself)."""
    from rich.table import Table

    from analyzer.store.tokens import list_tokens

    _, analyzer = connected(read_only=True)
    rows = [{"name": t.name, "role": t.role, "namespaces": ",".join(t.namespaces or []) or "*",
             "state": "revoked" if t.revoked_at else "active"}
            for t in run(lambda: list_tokens(analyzer.database))]
    if printed_as_data(rows, output):
        return
    if output is Format.NAME:
        print_names(r["name"] for r in rows)
        return
    table = Table("name", "role", "namespaces", "state", box=None, pad_edge=False)
    for r in rows:
        table.add_row(r["name"], r["role"], r["namespaces"], r["state"])
    show(table)
