"""Judgment retention: old judgments go, recent ones and those promotion evidence references stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.service.retention import prune_judgments
from analyzer.store import Database
from analyzer.store.tables import EvidenceRow, JudgmentRow

NOW = datetime.now(UTC)  # the CLI prunes against the real clock


def _judgment(i: int, age_days: float) -> JudgmentRow:
    return JudgmentRow(id=f"{i:032x}", created_at=NOW - timedelta(days=age_days), namespace="shop", rollout="checkout",
                       profile="http", canary_hash="abc", stable_hash="def", verdict="pass", score=100.0, steps=10,
                       step_seconds=60, input_digest="x", body={})


def _ledger(tmp_path, database_url: str | None = None) -> Database:
    database = Database(database_url or f"sqlite:///{tmp_path / 'l.db'}")
    database.migrate()
    with database.session() as s:
        s.add_all([_judgment(i, age) for i, age in enumerate([1, 10, 40, 40, 90] * 500)])  # 2500, 1500 old
        s.add(EvidenceRow(id="e1", attempt_id="a1", candidate_id="c", stage="V1", kind="judgment",
                          payload={"judgment_id": f"{2:032x}"}, sha256="s", collected_at=NOW, collected_by="ci"))
        s.commit()
    return database


def test_prune_keeps_recent_and_evidence_judgments(tmp_path, database_url):
    """On SQLite and on the real PostgreSQL: batches of 1000 across 2500 rows, the evidence's one kept."""
    database = _ledger(tmp_path, database_url)
    before = NOW - timedelta(days=30)
    assert prune_judgments(database, before, dry_run=True).deleted == 1499
    pruned = prune_judgments(database, before)
    assert (pruned.deleted, pruned.kept_as_evidence) == (1499, 1)
    with database.session() as s:
        assert s.query(JudgmentRow).count() == 1001
        assert s.get(JudgmentRow, f"{2:032x}") is not None  # promotion evidence: kept however old
    assert prune_judgments(database, before).deleted == 0
    database.dispose()


def test_prune_command(tmp_path):
    _ledger(tmp_path)
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    result = CliRunner().invoke(app, ["judgments", "prune", "--older-than", "3650d"], env=env)
    assert result.exit_code == 0 and result.stdout.strip() == "0"
    result = CliRunner().invoke(app, ["judgments", "prune", "--older-than", "2d", "--dry-run"], env=env)
    assert result.exit_code == 0 and result.stdout.strip() == "1999" and "would delete" in result.output
