"""Promotion from the command line, on a SQLite ledger."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()
IMAGE = "registry.example.com/shop/checkout@sha256:" + "b" * 64


def test_register_promote_evidence_evaluate_quarantine_audit(tmp_path):
    db = tmp_path / "ledger.db"
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{db}"}

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    registered = run("candidate", "register", "--image", f"checkout={IMAGE}", "--alias", "v2.0", "--actor", "ci")
    assert registered.exit_code == 0, registered.output
    cid = registered.output.strip()
    assert len(cid) == 64 and run("candidate", "register", "--image", f"checkout={IMAGE}").output.strip() == cid
    promoted = run("promote", cid[:12], "--actor", "alice")
    assert promoted.exit_code == 0 and "forward → V1, running" in promoted.output
    attempt = promoted.output.split()[1].rstrip(":")
    report = tmp_path / "neg.xml"
    report.write_text('<testsuite name="neg"><testcase classname="auth" name="replay"><error/></testcase></testsuite>')
    assert run("evidence", "add", attempt, "--junit", str(report)).exit_code == 0
    watched = run("watch", "--once")
    assert watched.exit_code == 0 and f"{attempt}: inconclusive" in watched.output
    waiting = run("evaluate", attempt)
    assert waiting.exit_code == 3 and "no canary judgment" in waiting.output  # V1 has no JUnit check
    shown = json.loads(run("candidate", "show", cid, "--json").output)
    assert shown["state"] == "in:V1" and shown["attempts"][0]["id"] == attempt
    quarantined = run("quarantine", cid, "--reason", "auth replay accepted in negative tests", "--code",
                      "negative_test_failed")
    assert quarantined.exit_code == 0 and '"stages_running_candidate"' in quarantined.output
    status = run("status")
    assert "quarantined" in status.output and "negative_test_failed" in status.output
    assert run("audit", "verify").exit_code == 0
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 1")
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "event 1 was changed" in broken.output
    refused = run("promote", cid)
    assert refused.exit_code == 4 and "quarantined" in refused.output


def test_tokens(tmp_path):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    created = runner.invoke(app, ["token", "create", "ci", "--role", "operator"], env=env)
    assert created.exit_code == 0 and len(created.output.strip()) >= 40
    assert "ci                   operator  active" in runner.invoke(app, ["token", "list"], env=env).output
    assert runner.invoke(app, ["token", "revoke", "ci"], env=env).exit_code == 0
    assert "revoked" in runner.invoke(app, ["token", "list"], env=env).output
    bad = runner.invoke(app, ["token", "create", "x", "--role", "root"], env=env)
    assert bad.exit_code == 4 and "viewer, operator, admin" in bad.output
