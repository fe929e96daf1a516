"""The CLI's side of issue 13: `serve` is not open by default, forced promotions take two tokens, and
`audit verify --checkpoint` detects truncation and rewrites that the chain alone cannot."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.promotion.audit import chain_hash
from analyzer.promotion.stages import load_pipeline
from analyzer.service import promotion as flow
from analyzer.store import Database

runner = CliRunner()
IMAGE = "registry.example.com/shop/checkout@sha256:" + "c" * 64
KEY = "k3y-from-a-kubernetes-secret"


def _env(tmp_path, **extra: str) -> dict[str, str]:
    return {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "CANARY_ANALYZER_AUDIT_KEY": KEY,
            **extra}


def test_serve_without_any_token_refuses_to_start(tmp_path):
    refused = runner.invoke(app, ["serve", "--host", "0.0.0.0"], env=_env(tmp_path))
    assert refused.exit_code == 4 and "no API token is configured" in refused.output
    assert "--insecure-no-auth" in refused.output


def test_a_forced_promotion_takes_two_different_tokens(tmp_path):
    env = _env(tmp_path)

    def run(*args: str, **more: str):
        return runner.invoke(app, list(args), env={**env, **more})

    tokens = {role: run("token", "create", f"{role}-1", "--role", role).stdout.strip()
              for role in ("operator", "approver", "admin")}
    cid = run("release", "register", "--image", f"checkout={IMAGE}").stdout.strip()
    why = "sev1 outage 4711 needs the hotfix now"
    # The old way: a free-text second approver who is the requester under another spelling.
    old = run("release", "promote", cid, "--to", "V3", "--force", "--justification", why, "--second-approver",
              "alice", "--actor", "alice")
    assert old.exit_code == 2  # no such option any more
    assert run("release", "promote", cid, "--to", "V3", "--force", "--justification", why).exit_code == 4  # no token
    weak = run("release", "promote", cid, "--to", "V3", "--force", "--justification", why,
               CANARY_ANALYZER_TOKEN=tokens["operator"])
    assert weak.exit_code == 4 and "needs an unscoped admin" in weak.output
    forced = run("release", "promote", cid, "--to", "V3", "--force", "--justification", why, "-o", "json",
                 CANARY_ANALYZER_TOKEN=tokens["admin"])
    assert forced.exit_code == 0, forced.output
    attempt = json.loads(forced.stdout)
    assert attempt["state"] == "awaiting_second" and attempt["requested_by"] == "token:admin-1"
    itself = run("release", "confirm", attempt["id"], "--token", tokens["admin"])
    assert itself.exit_code == 4 and "different identity" in itself.output
    assert run("release", "confirm", attempt["id"], "--token", tokens["operator"]).exit_code == 4
    confirmed = run("release", "confirm", attempt["id"], "--token", tokens["approver"], "-o", "json")
    assert confirmed.exit_code == 0 and json.loads(confirmed.stdout)["second_approver"] == "token:approver-1"


def _rewrite(db, edit_seq: int) -> None:
    """An attacker with the database: edit one event's reason and re-hash every later event consistently."""
    with sqlite3.connect(db) as c:
        c.execute("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = ?", (edit_seq,))
        rows = c.execute("SELECT seq, event_id, ts, actor, action, candidate_id, stage, attempt_id, from_state,"
                         " to_state, reason, data FROM audit_events ORDER BY seq").fetchall()
        prev = "0" * 64
        for row in rows:
            event = dict(zip(("seq", "event_id", "ts", "actor", "action", "candidate_id", "stage", "attempt_id",
                              "from_state", "to_state", "reason", "data"), row, strict=True))
            event["data"] = json.loads(event["data"])
            digest = chain_hash(prev, event)
            c.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, event["seq"]))
            prev = digest


def test_audit_verify_against_a_checkpoint_detects_truncation_and_rewrites(tmp_path):
    env = _env(tmp_path)
    db = tmp_path / "ledger.db"
    database = Database(env["CANARY_ANALYZER_DATABASE_URL"])
    database.migrate()
    p = flow.Promotions(database, load_pipeline(None))
    for i in range(60):  # 60 candidates: 60 audit events
        flow.register(p, [{"name": "c", "image": f"r.example/x@sha256:{i:064x}"}], "ci")
    database.dispose()
    made = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert made.exit_code == 0, made.output
    anchor = tmp_path / "checkpoint.json"
    anchor.write_text(made.stdout)
    assert json.loads(made.stdout)["events"] == 60
    verified = runner.invoke(app, ["audit", "verify", "--checkpoint", str(anchor)], env=env)
    assert verified.exit_code == 0 and "as checkpointed" in verified.output

    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    _rewrite(db, 10)
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0  # the chain alone: "intact"
    rewritten = runner.invoke(app, ["audit", "verify", "--checkpoint", str(anchor)], env=env)
    assert rewritten.exit_code == 1 and "rewritten" in " ".join(rewritten.output.split())

    db.write_bytes(copy.read_bytes())
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM audit_events WHERE seq > 10")  # the last 50 events
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0
    truncated = runner.invoke(app, ["audit", "verify", "--checkpoint", str(anchor)], env=env)
    assert truncated.exit_code == 1 and "events were deleted" in " ".join(truncated.output.split())

    forged = runner.invoke(app, ["audit", "verify", "--checkpoint", str(anchor)],
                           env={**env, "CANARY_ANALYZER_AUDIT_KEY": "another-key"})
    assert forged.exit_code == 4 and "signature does not match" in " ".join(forged.output.split())
    keyless = runner.invoke(app, ["audit", "checkpoint"], env={"CANARY_ANALYZER_DATABASE_URL": env[
        "CANARY_ANALYZER_DATABASE_URL"]})
    assert keyless.exit_code == 4 and "audit_key" in keyless.output
