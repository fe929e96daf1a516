"""A hung webhook receiver does not slow the promotion API: notifications wait on their own queue and
thread, and what the queue cannot hold is dropped and counted in /metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from analyzer.service import notify
from analyzer.store.tokens import create_token
from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app
from tests.support.webhooks import Receiver


def test_a_hung_receiver_does_not_delay_api_answers(tmp_path):
    with Receiver(hang=True) as receiver:
        settings = settings_for("http://127.0.0.1:9", tmp_path, insecure_no_auth=False,
                                notify_webhook_url=receiver.url, notify_webhook_secret="k",
                                notify_timeout_seconds=5.0, notify_queue_size=2)
        app, analyzer = make_app(settings, Clock(1_800_000_000))
        op = {"Authorization": f"Bearer {create_token(analyzer.database, 'ci', 'operator', datetime.now(UTC))}"}
        took = []
        with TestClient(app) as client:
            for n in range(6):
                image = f"registry.example.com/shop/checkout@sha256:{n + 1:064x}"
                cid = client.post("/api/v1/candidates", json={"artifacts": [{"name": "c", "image": image}]},
                                  headers=op).json()["id"]
                started = time.perf_counter()
                answer = client.post(f"/api/v1/evaluation/quarantine/{cid}", headers=op,
                                     json={"reason": "CVE-2026-1234 in the base image", "reason_code": "security"})
                took.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
            receiver.wait_for(1)  # the first notification reached the receiver, which holds it 5 s and more
            metrics = client.get("/metrics", headers=op).text
        current = notify.current()
        assert current is not None
        current.close(0.1)
    assert max(took) < 1.0, took  # each answer is the transaction alone; a delivery would hold it ≥ 5 s
    # 1 in delivery, 2 queued, 3 dropped: counted for /metrics (the counter is this process's, across tests)
    dropped = next(line for line in metrics.splitlines()
                   if line.startswith('canary_analyzer_notifications_dropped_total{event="candidate.quarantined"}'))
    assert float(dropped.rsplit(" ", 1)[1]) >= 3
