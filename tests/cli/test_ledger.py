"""`-o` on the ledger's commands that print a result (issue 16): the default output is unchanged, json/yaml
print the record, and what a script reads from stdout stays alone there."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()


def _run(tmp_path, *args: str):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "CANARY_ANALYZER_AUDIT_KEY": "k3y-of-thirty-two-characters-ok!"}
    return runner.invoke(app, list(args), env=env)


def test_token_create_and_revoke_print_the_token_or_the_record(tmp_path):
    plain = _run(tmp_path, "token", "create", "ci", "--role", "analysis", "-n", "shop")
    assert plain.exit_code == 0 and len(plain.stdout.strip().split()) == 1  # the token alone: token=$(…)
    record = json.loads(_run(tmp_path, "token", "create", "ci-2", "--role", "viewer", "-o", "json").stdout)
    assert {k: record[k] for k in ("name", "role", "namespaces")} == {"name": "ci-2", "role": "viewer",
                                                                         "namespaces": []}
    assert len(record["token"]) >= 32 and record["token"] != plain.stdout.strip()
    assert _run(tmp_path, "token", "revoke", "ci").stdout == "ci\n"
    assert yaml.safe_load(_run(tmp_path, "token", "revoke", "ci-2", "-o", "yaml").stdout) == {"name": "ci-2",
                                                                                               "revoked": True}


def test_prune_prints_the_count_or_the_counts(tmp_path):
    _run(tmp_path, "token", "create", "ci")  # a ledger (prune never creates one)
    assert _run(tmp_path, "judgments", "prune", "--older-than", "30d").stdout == "0\n"
    counts = json.loads(_run(tmp_path, "judgments", "prune", "--older-than", "12h", "--dry-run", "-o", "json").stdout)
    assert (counts["deleted"], counts["kept_as_evidence"], counts["dry_run"], counts["older_than"]) == (0, 0, True,
                                                                                                     "12h")


def test_audit_checkpoint_and_verify_speak_json_and_yaml(tmp_path):
    _run(tmp_path, "token", "create", "ci")  # a ledger to checkpoint
    line = _run(tmp_path, "audit", "checkpoint")
    assert line.exit_code == 0 and len(line.stdout.splitlines()) == 1  # one line: the file verify reads
    assert yaml.safe_load(_run(tmp_path, "audit", "checkpoint", "-o", "yaml").stdout)["head"] == json.loads(
        line.stdout)["head"]
    assert _run(tmp_path, "audit", "checkpoint", "-o", "table").exit_code == 2
    anchor = tmp_path / "checkpoint.json"
    anchor.write_text(line.stdout)
    verified = json.loads(_run(tmp_path, "audit", "verify", "--checkpoint", str(anchor), "-o", "json").stdout)
    assert verified["intact"] is True and verified["first_break"] is None and verified["checkpoint"] == str(anchor)
    assert "chain intact" in _run(tmp_path, "audit", "verify").stdout
