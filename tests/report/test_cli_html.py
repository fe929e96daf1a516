"""`canary-analyzer judge FILE -o html`: the same page offline, exit code by verdict, FILE read once."""

from __future__ import annotations

from typer.testing import CliRunner

from analyzer.cli import app
from tests.report.conftest import CASES


def test_judge_writes_the_report_page(tmp_path):
    measurement = tmp_path / "fail.json"
    measurement.write_text(CASES["fail"].model_dump_json(), encoding="utf-8")
    page = tmp_path / "fail.html"
    done = CliRunner().invoke(app, ["judge", str(measurement), "-o", "html", "--output-file", str(page)])
    assert done.exit_code == 1, done.output
    html = page.read_text(encoding="utf-8")
    assert '<span class="badge fail">fail</span>' in html and 'data-plot="error-rate-evidence"' in html


def test_judge_reads_stdin_once_and_draws_the_kayenta_judgment_without_evidence_plots():
    done = CliRunner().invoke(app, ["judge", "-", "--judge", "kayenta", "-o", "html"],
                              input=CASES["pass"].model_dump_json())
    assert done.exit_code in (0, 3), done.output
    assert done.output.startswith("<!DOCTYPE html>")
    assert 'data-plot="latency-per-step"' in done.output and "-evidence" not in done.output


def test_judgments_show_draws_a_recorded_judgments_page_from_the_store(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from analyzer.judging import judge
    from analyzer.model import Policy
    from analyzer.service.reports import keep_measurement
    from analyzer.store import Database, JudgmentRecord, WindowKey
    from analyzer.store.judgments import new_id, save_judgment
    from tests.support.stored import stored

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    database = Database(url)
    database.migrate()
    measurement, policy, now = CASES["fail"], Policy(), 1_800_000
    key = WindowKey("shop", "checkout", "http", "c1", "s1")
    keep_measurement(database, stored(key, now, measurement, policy, {}, datetime.now(UTC)))
    judgment = judge(measurement.head(12), policy)  # an earlier look of the stored window
    record = JudgmentRecord(new_id(), datetime.now(UTC), key, judgment.verdict.value, judgment.score, judgment.steps,
                            now, now + 60 * 12, 60, judgment.input_digest, judgment.model_dump(mode="json"))
    with database.session() as session:
        save_judgment(session, record)
    database.dispose()
    monkeypatch.setenv("CANARY_ANALYZER_DATABASE_URL", url)
    done = CliRunner().invoke(app, ["judgments", "show", record.id, "-o", "html"])
    assert done.exit_code == 0, done.output
    assert "<dt>steps judged</dt><dd>12 × 60 s</dd>" in done.output and 'data-plot="error-rate-evidence"' in done.output
    assert "differ from what this look judged" not in done.output
    assert CliRunner().invoke(app, ["judgments", "show", "0" * 32, "-o", "html"]).exit_code == 4
