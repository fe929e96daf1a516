"""`canary-analyzer serve` and `export` as a user runs them: real processes, real Prometheus."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

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


class Served:
    """``canary-analyzer serve`` in a process, its log read as it comes (to know when every worker is up)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "analyzer.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def started(self) -> int:
        """How many workers logged that their application started."""
        return sum(1 for line in self.lines if "Application startup complete" in line)

    def wait_for_workers(self, workers: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while self.started() < workers and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.started() == workers, self.log()[-3000:]

    def log(self) -> str:
        return "".join(self.lines)

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=15)
        self._reader.join(timeout=5)
        return self.log()


def test_two_workers_on_a_fresh_sqlite_file_start_every_time(tmp_path):
    """The schema is migrated once before the workers start; they never race on alembic_version."""
    for attempt in range(5):
        env = {**os.environ, "CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}",
               "CANARY_ANALYZER_PROMETHEUS_URL": "http://127.0.0.1:9"}
        served = Served(env, "--workers", "2", "--insecure-no-auth")
        try:
            served.wait_for_workers(2)
        finally:
            log = served.stop()
        assert "already exists" not in log and "Traceback" not in log, log[-3000:]


def _healthz_by_worker(directory: Path, scratch: Path) -> dict[str, float]:
    """Each worker's own count of /healthz answers, read from its multiprocess file alone."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        alone = scratch / path.stem
        alone.mkdir(parents=True)
        shutil.copy(path, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        labels = {"method": "GET", "route": "/healthz", "status": "200"}
        counts[path.stem] = registry.get_sample_value("canary_analyzer_http_requests_total", labels) or 0.0
    return counts


def test_metrics_add_up_the_counters_of_every_worker(backfilled, tmp_path):
    env = {**os.environ, "CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "CANARY_ANALYZER_PROMETHEUS_URL": backfilled.url, "CANARY_ANALYZER_LOOKBACK_SECONDS": "43200",
           "CANARY_ANALYZER_WINDOW_GAP_STEPS": "1440", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    served = Served(env, "--workers", "2", "--insecure")  # the short spelling of --insecure-no-auth
    try:
        served.wait_for_workers(2)
        (directory,) = (tmp_path / "metrics").iterdir()  # this start's own directory
        sent = 0
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while True:  # until both workers have answered some (the kernel picks who accepts)
                statuses = list(pool.map(lambda _: httpx.get(f"{served.base}/healthz").status_code, range(40)))
                assert statuses == [200] * 40
                sent += 40
                per_worker = _healthz_by_worker(directory, tmp_path / f"read-{sent}")
                if (len(per_worker) == 2 and min(per_worker.values()) > 0) or sent >= 400:
                    break
        assert len(per_worker) == 2 and min(per_worker.values()) > 0, per_worker
        looks = [httpx.get(f"{served.base}/api/v1/analysis", params=backfilled.args(n)) for n in ("errors", "healthy")]
        assert [look.status_code for look in looks] == [200, 200]
        text = httpx.get(f"{served.base}/metrics").text
    finally:
        served.stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    healthz = [s.value for s in families["canary_analyzer_http_requests"].samples
               if s.name.endswith("_total") and s.labels["route"] == "/healthz"]
    assert healthz == [sent]  # both workers' answers (each worker's own count is less, read above)
    judged = sum(s.value for s in families["canary_analyzer_judgments"].samples if s.name.endswith("_total"))
    assert judged == 2
    scores = [s for s in families["canary_analyzer_rollout_score"].samples if s.labels["rollout"] == "checkout"]
    assert len(scores) == 2  # one per Rollout (namespace), from the ledger: not once per worker
    assert len(families["canary_analyzer_build_info"].samples) == 1
    assert not directory.exists()  # each start's files go with it
