"""`canary-analyzer serve` and `export` as a user runs them: real processes, real Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx

from tests.conftest import STEP
from tests.support.prometheus import free_port, wait_until_up


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_serve_answers_argo_and_logs_json(backfilled, tmp_path):
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"prometheus_url: {backfilled.url}\ndatabase_url: sqlite:///{tmp_path / 'ledger.db'}\nlookback_seconds: 43200\n"
        "window_gap_steps: 1440\n"  # the backfilled canary served hours ago, then idled: no new window
    )
    env = {**os.environ, "CANARY_ANALYZER_API_TOKENS": '["t0ken"]'}
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "serve", "--config", str(config), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_up(f"{base}/healthz", process), process.stderr.read() if process.stderr else ""
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        args = backfilled.args("errors")
        response = httpx.get(f"{base}/api/v1/analysis", params=args, headers={"Authorization": "Bearer t0ken"})
        assert response.status_code == 200
        # The real clock is hours past the backfilled canary; the window starts at its first data anyway.
        assert response.json()["window"]["start"].startswith(
            datetime.fromtimestamp(backfilled.start, UTC).strftime("%Y-%m-%dT%H:%M")
        )
        assert response.json()["verdict"] == "fail"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["message"] == "request"]
    assert any(r["path"] == "/api/v1/analysis" and r["status"] == 200 for r in requests)
    assert all(len(r["request_id"]) == 32 for r in requests)


def test_serve_refuses_bad_settings_with_a_clear_message(tmp_path):
    config = tmp_path / "config.yaml"
    for text, named in (("prometheus_timeout_seconds: 9\n", "prometheus_timeout_seconds"), ("unknwn: 1\n", "unknwn")):
        config.write_text(text)
        result = _cli("serve", "--config", str(config))
        assert result.returncode == 4
        assert named in result.stderr
        assert "Traceback" not in result.stderr
    missing = _cli("serve", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 4 and "does not exist" in missing.stderr


def test_export_writes_a_file_that_judge_reads(backfilled, tmp_path):
    start = datetime.fromtimestamp(backfilled.start, UTC).isoformat()
    end = datetime.fromtimestamp(backfilled.start + 20 * STEP, UTC).isoformat()
    out = tmp_path / "canary.json"
    args = backfilled.args("errors")
    env = {**os.environ, "CANARY_ANALYZER_PROMETHEUS_URL": backfilled.url}
    result = _cli(
        "export", "-n", args["namespace"], "--rollout", "checkout", "--canary", args["canary"],
        "--stable", args["stable"], "--from", start, "--to", end, "--output-file", str(out), env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["metrics"]["error-rate"]["canary"]["total"][0] > 0
    judged = _cli("judge", str(out), "--profile", "http", "-o", "json")
    assert judged.returncode == 1  # fail
    assert json.loads(judged.stdout)["steps"] == 20


def test_export_rejects_bad_arguments(backfilled):
    env = {**os.environ, "CANARY_ANALYZER_PROMETHEUS_URL": backfilled.url}
    bad = _cli("export", "-n", 'x"}', "--rollout", "r", "--canary", "a", "--stable", "b",
               "--from", "2026-01-01T00:00", "--to", "2026-01-01T01:00", env=env)
    assert bad.returncode == 2 and "namespace" in bad.stderr
    empty = _cli("export", "-n", "x", "--rollout", "r", "--canary", "a", "--stable", "b",
                 "--from", "2026-01-01T00:00", "--to", "2026-01-01T00:00:30", env=env)
    assert empty.returncode == 4 and "no whole 60 s step" in empty.stderr
    down = _cli("export", "-n", "x", "--rollout", "r", "--canary", "a", "--stable", "b",
                "--from", "2026-01-01T00:00", "--to", "2026-01-01T01:00",
                env={**os.environ, "CANARY_ANALYZER_PROMETHEUS_URL": "http://127.0.0.1:9",
                     "CANARY_ANALYZER_PROMETHEUS_TIMEOUT_SECONDS": "0.5"})
    assert down.returncode == 4 and "unreachable" in down.stderr


def test_serve_refuses_a_bad_profile_before_starting(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "broken.yaml").write_text(
        "name: broken\nselector: {canary: 'x=\"$hsh\"', stable: 'x=\"$hash\"'}\n"
        "metrics: {error-rate: {kind: ratio, total: 'sum(a{$selector})', events: 'sum(b{$selector})'}}\n"
    )
    env = {**os.environ, "CANARY_ANALYZER_PROFILES_DIR": str(profiles)}
    result = _cli("serve", env=env)
    assert result.returncode == 4
    assert "broken.yaml" in result.stderr and "hsh" in result.stderr
    assert "Traceback" not in result.stderr
