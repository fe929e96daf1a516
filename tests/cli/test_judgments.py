"""`canary-analyzer judgments list|show` on a ledger holding one recorded judgment; no ledger, no file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app
from analyzer.store import Database, JudgmentRecord, WindowKey
from analyzer.store.judgments import new_id, save_judgment
from tests.cli.test_offline import README_EXAMPLE
from tests.support.argo_objects import CANARY, STABLE

runner = CliRunner()


@pytest.fixture
def ledger(tmp_path) -> tuple[dict[str, str], str]:
    """The ledger's settings and the id of the judgment in it (the README example, judged)."""
    database = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    database.migrate()
    judgment = analyzer.judge(README_EXAMPLE)
    record = JudgmentRecord(
        id=new_id(), created_at=datetime(2026, 11, 22, 6, 1, 2, tzinfo=UTC),
        key=WindowKey("shop", "checkout", "http", CANARY, STABLE), verdict=judgment.verdict.value,
        score=judgment.score, steps=judgment.steps, window_start=0, window_end=120, step_seconds=60,
        input_digest=judgment.input_digest, body=judgment.model_dump(mode="json"),
    )
    with database.session() as session:
        save_judgment(session, record)
    database.dispose()
    return {"CANARY_ANALYZER_DATABASE_URL": database.url}, record.id


def test_list_in_every_format(ledger):
    env, judgment_id = ledger
    table = runner.invoke(app, ["judgments", "list"], env=env)
    assert table.exit_code == 0 and judgment_id[:12] in table.output and "shop/checkout" in table.output
    assert CANARY in runner.invoke(app, ["judgments", "list", "-o", "wide"], env=env).output
    assert runner.invoke(app, ["judgments", "list", "-o", "name"], env=env).output.split() == [judgment_id]
    listed = json.loads(runner.invoke(app, ["judgments", "list", "-o", "json"], env=env).stdout)
    assert listed[0]["canary"] == CANARY and listed[0]["verdict"] == "inconclusive"
    assert runner.invoke(app, ["judgments", "list", "--rollout", "other", "-o", "name"], env=env).output == ""


def test_show_renders_as_judge_does(ledger, tmp_path):
    env, judgment_id = ledger
    shown = runner.invoke(app, ["judgments", "show", judgment_id], env=env)
    assert shown.exit_code == 0 and "verdict: INCONCLUSIVE" in shown.output
    report = tmp_path / "report.xml"
    assert runner.invoke(app, ["judgments", "show", judgment_id, "-o", "junit", "--output-file", str(report)],
                         env=env).exit_code == 0
    assert ET.parse(report).getroot().find("testsuite").get("name") == "canary-judgment shop/checkout"
    missing = runner.invoke(app, ["judgments", "show", "nope"], env=env)
    assert missing.exit_code == 4 and "no judgment 'nope'" in missing.output


def test_reading_without_a_ledger_creates_none(tmp_path):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    result = runner.invoke(app, ["judgments", "list"], env=env)
    assert result.exit_code == 4 and "no ledger at" in result.output
    assert not (tmp_path / "none.db").exists()
