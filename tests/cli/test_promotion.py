"""`canary-analyzer release|audit|token` on a SQLite ledger: ids on stdout, records with -o json, and
reads that create nothing."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from analyzer.cli import app
from tests.support.ids import burst_ids, common_prefix

runner = CliRunner()
IMAGE = "registry.example.com/shop/checkout@sha256:" + "b" * 64


def test_register_promote_evidence_evaluate_quarantine_audit(tmp_path):
    db = tmp_path / "ledger.db"
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{db}"}

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    for read in (("release", "status"), ("release", "show", "abcdef12"), ("audit", "verify"), ("audit", "log"),
                 ("token", "list")):
        refused = run(*read)
        assert refused.exit_code == 4 and "no ledger at" in refused.output, read
    assert not db.exists()  # reading never creates the ledger
    registered = run("release", "register", "--image", f"checkout={IMAGE}", "--alias", "v2.0", "--actor", "ci")
    assert registered.exit_code == 0, registered.output
    cid = registered.stdout.strip()
    assert len(cid) == 64 and run("release", "register", "--image", f"checkout={IMAGE}").stdout.strip() == cid
    promoted = run("release", "promote", cid[:12], "--actor", "alice", "-o", "json")
    assert promoted.exit_code == 0, promoted.output
    attempt = json.loads(promoted.stdout)["id"]
    assert json.loads(promoted.stdout)["to_stage"] == "V1" and json.loads(promoted.stdout)["state"] == "running"
    report = tmp_path / "neg.xml"
    report.write_text('<testsuite name="neg"><testcase classname="auth" name="replay"><error/></testcase></testsuite>')
    evidence = run("release", "evidence", attempt, "--junit", str(report))
    assert evidence.exit_code == 0 and len(evidence.stdout.split()) == 1  # the evidence id alone
    watched = run("release", "watch", "--once")
    assert watched.exit_code == 0 and f"{attempt}: inconclusive" in watched.output
    waiting = run("release", "evaluate", attempt)
    assert waiting.exit_code == 3 and "no canary judgment" in waiting.output  # V1 has no JUnit check
    evaluation = json.loads(run("release", "evaluate", attempt, "-o", "json").stdout)
    assert evaluation["verdict"] == "inconclusive" and evaluation["id"] in run("release", "attempt", attempt).output
    assert run("audit", "recompute", evaluation["id"]).exit_code == 0
    shown = json.loads(run("release", "show", cid, "-o", "json").stdout)
    assert shown["state"] == "in:V1" and shown["attempts"][0]["id"] == attempt
    quarantined = run("release", "quarantine", cid, "--reason", "auth replay accepted in negative tests", "--code",
                      "negative_test_failed", "-o", "json")
    assert quarantined.exit_code == 0 and "stages_running_candidate" in json.loads(quarantined.stdout)["impact"]
    status = run("release", "status")
    assert "quarantined" in status.output and "negative_test_failed" in status.output
    assert "↳ auth replay accepted in negative tests" in run("audit", "log").output
    assert json.loads(run("audit", "log", "-o", "json").stdout)[-1]["action"]
    assert run("audit", "verify").exit_code == 0
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 1")
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "event 1 was changed" in broken.output
    refused = run("release", "promote", cid)
    assert refused.exit_code == 4 and "quarantined" in refused.output


def test_tokens(tmp_path):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    created = runner.invoke(app, ["token", "create", "ci", "--role", "operator"], env=env)
    assert created.exit_code == 0 and len(created.stdout.strip()) >= 40
    listed = runner.invoke(app, ["token", "list"], env=env).output.splitlines()
    assert ["ci", "operator", "*", "active"] in [line.split() for line in listed]
    assert runner.invoke(app, ["token", "revoke", "ci"], env=env).exit_code == 0
    assert "revoked" in runner.invoke(app, ["token", "list"], env=env).output
    bad = runner.invoke(app, ["token", "create", "x", "--role", "root"], env=env)
    assert bad.exit_code == 4 and "viewer, analysis, operator, approver, admin" in bad.output


def test_ids_are_unique_prefixes_and_changes_print_their_records(tmp_path, monkeypatch):
    """Issue 16: every id a release/audit command takes may be a unique prefix; an ambiguous one is exit 4
    naming the matches; evidence and evaluations print their ids, and with -o json the stored record."""
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    burst_ids(monkeypatch)
    first_id = run("release", "register", "--image", f"checkout={IMAGE}").stdout.strip()
    second_id = run("release", "register", "--image", f"cart={IMAGE}").stdout.strip()
    first = run("release", "promote", first_id[:8]).stdout.strip()
    second = run("release", "promote", second_id[:8]).stdout.strip()  # queued behind the first in V1
    common = common_prefix([first, second])
    ambiguous = run("release", "attempt", common)
    assert ambiguous.exit_code == 4 and first in ambiguous.output and second in ambiguous.output
    assert "give more characters" in ambiguous.output

    approval = run("release", "approve", first[:20], "--comment", "ok", "--actor", "bob", "-o", "json")
    assert approval.exit_code == 0, approval.output
    record = json.loads(approval.stdout)
    assert record["attempt_id"] == first and record["kind"] == "approval" and len(record["sha256"]) == 64
    assert record["payload"] == {"by": "cli:bob", "comment": "ok"} and record["collected_at"]
    named = run("release", "approve", first[:20], "--actor", "carol")
    assert named.exit_code == 0 and len(named.stdout.split()) == 1  # the evidence id alone
    assert f"attached to {first}" in " ".join(named.stderr.split())  # the whole attempt id, not the prefix

    evaluated = run("release", "evaluate", first[:20], "-o", "json")
    assert evaluated.exit_code == 3  # V1 waits for a canary judgment
    evaluation = json.loads(evaluated.stdout)
    assert evaluation["attempt_id"] == first and {i["id"] for i in evaluation["inputs"]} >= {record["id"]}
    table = run("release", "evaluate", first[:20])
    second_evaluation = " ".join(table.output.split()).rsplit("(evaluation ", 1)[1].split(")")[0]
    assert second_evaluation != evaluation["id"]
    recomputed = run("audit", "recompute", evaluation["id"][:20])
    assert recomputed.exit_code == 0
    said = " ".join(recomputed.output.split())  # rich folds lines at 80 columns
    assert f"evaluation {evaluation['id']}: the same (inconclusive recorded, inconclusive now)" in said
    both = run("audit", "recompute", common_prefix([evaluation["id"], second_evaluation]))
    assert both.exit_code == 4 and evaluation["id"] in both.output and second_evaluation in both.output
    assert run("release", "evaluate", first[:7]).exit_code == 4


def test_a_cli_quarantine_delivers_its_notification_before_the_process_ends(tmp_path):
    """The notifier's queue is drained at exit: a one-shot command's webhook leaves before it returns."""
    import os
    import subprocess
    import sys

    from tests.support.webhooks import Receiver

    with Receiver() as receiver:
        env = {**os.environ, "CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
               "CANARY_ANALYZER_NOTIFY_WEBHOOK_URL": receiver.url, "CANARY_ANALYZER_NOTIFY_WEBHOOK_SECRET": "k"}

        def cli(*args: str) -> str:
            done = subprocess.run([sys.executable, "-m", "analyzer.cli", *args], env=env, capture_output=True,
                                  text=True, timeout=60, check=False)
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        cid = cli("release", "register", "--image", f"checkout={IMAGE}", "--alias", "v2.0")
        quarantine = cli("release", "quarantine", cid, "--reason", "CVE-2026-1234 in the base image", "--code",
                         "security")
        (headers, body), = receiver.wait_for(1, seconds=1)  # already there when the command returned
    sent = json.loads(body)
    assert sent["event"] == "candidate.quarantined" and sent["facts"]["quarantine"] == quarantine
    assert headers["x-canary-analyzer-signature"].startswith("sha256=")
