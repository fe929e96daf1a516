"""The analysis endpoint announces a failed canary once (a signed webhook), with its report link, and
never waits for the receiver."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from analyzer.service import notify, notify_messages
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app
from tests.support.webhooks import Receiver


def test_a_failed_look_is_announced_once_with_its_report_and_a_healthy_one_never(backfilled, tmp_path):
    notify_messages._ANNOUNCED.clear()  # once per canary and process: other tests' canaries are not ours
    with Receiver(hang=False) as receiver:
        settings = settings_for(backfilled.url, tmp_path, notify_webhook_url=receiver.url,
                                notify_webhook_secret="k", notify_events=["canary.failed"])
        app, _ = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
        with TestClient(app) as client:
            healthy = client.get("/api/v1/analysis", params=backfilled.args("healthy")).json()
            looks = [client.get("/api/v1/analysis", params=backfilled.args("errors")).json() for _ in range(2)]
            (headers, body), = receiver.wait_for(1)
            time.sleep(0.3)  # a second announcement, if one were sent, would have arrived by now
        current = notify.current()
        assert current is not None
        current.close(1.0)
    assert healthy["verdict"] != "fail" and [look["verdict"] for look in looks] == ["fail", "fail"]
    assert receiver.events() == ["canary.failed"]
    sent = json.loads(body)
    assert sent["link"] == looks[0]["report"] and looks[0]["id"] in json.dumps(sent)
    named = {name.lower(): value for name, value in headers.items()}
    signed = named[notify.TIMESTAMP_HEADER.lower()], named[notify.SIGNATURE_HEADER.lower()]
    assert notify.verify(b"k", *signed, body)
