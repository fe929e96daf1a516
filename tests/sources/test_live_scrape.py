"""End to end on live data: a prometheus-client exporter, scraped every second by a real Prometheus.

The canary serves 30 % errors beside a 1 % stable; a 2-second-step profile lets the analysis endpoint
see the regression within seconds of the first scrapes. (Prometheus' discovery sends its first
targets about 5 s after start, so this test takes 10-20 s.)
"""

from __future__ import annotations

import random
import threading
import time

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from analyzer.config import load_query_profile
from analyzer.settings import Settings
from tests.support.prometheus import free_port, prometheus
from tests.support.service import Clock, make_app


def _exporter(stop: threading.Event) -> int:
    registry = CollectorRegistry()
    labels = ["namespace", "rollouts_pod_template_hash"]
    requests = Counter("http_requests", "requests", [*labels, "code"], registry=registry)
    latency = Histogram(
        "http_request_duration_seconds", "latency", labels, registry=registry
    )
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    arms = (("live", "c0ffee1", 0.30), ("live", "5ab1e22", 0.01))
    rng = random.Random(5)

    def serve() -> None:
        while not stop.is_set():
            for namespace, pod_hash, error_rate in arms:
                for _ in range(10):
                    code = "500" if rng.random() < error_rate else "200"
                    requests.labels(namespace, pod_hash, code).inc()
                    latency.labels(namespace, pod_hash).observe(rng.lognormvariate(-2.5, 0.5))
            time.sleep(0.05)

    threading.Thread(target=serve, daemon=True).start()
    return port


def test_live_scraped_regression_fails_through_the_http_api(tmp_path):
    stop = threading.Event()
    port = _exporter(stop)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    fast = load_query_profile("http").model_dump(mode="json")
    fast.update(name="http-fast", step_seconds=2)
    import yaml

    (profiles / "http-fast.yaml").write_text(yaml.safe_dump(fast))
    scrape = f"[{{job_name: app, scrape_interval: 1s, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]"
    (tmp_path / "prom").mkdir()
    try:
        with prometheus(tmp_path / "prom", scrape_configs=scrape, scrape_interval="1s") as url:
            settings = Settings(
                prometheus_url=url, database_url=f"sqlite:///{tmp_path / 'ledger.db'}", profiles_dir=profiles,
                insecure_no_auth=True,  # a test service: what it judges is the point here, not who asks
            )
            app, _ = make_app(settings, Clock(0))
            app.state.analyzer.clock = time.time
            args = {"profile": "http-fast", "namespace": "live", "rollout": "shop", "canary": "c0ffee1",
                    "stable": "5ab1e22"}
            seen = []
            with TestClient(app) as client:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    response = client.get("/api/v1/analysis", params=args)
                    assert response.status_code == 200, response.text
                    seen.append(response.json()["verdict"])
                    if seen[-1] != "inconclusive":
                        break
                    time.sleep(1)
            assert seen[-1] == "fail", seen
            body = response.json()
            error_rate = next(m for m in body["metrics"] if m["name"] == "error-rate")
            # 30 % errors on a few hundred requests per step (increase() extrapolates at series edges)
            assert 0.2 < error_rate["estimate"]["canary_rate"] < 0.5
            assert error_rate["samples"]["canary_requests"] > 100
            assert "pass" not in seen
    finally:
        stop.set()
