"""Webhook delivery against a real HTTP receiver on loopback: signatures, retries on 500, bounded give-up,
Slack's JSON, and a full queue that drops (counted, logged) instead of waiting."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from analyzer.errors import InputError
from analyzer.service import notify
from analyzer.service.notify import Notification, Notifier, Slack, Webhook
from analyzer.settings import Settings
from tests.support.logs import logged
from tests.support.webhooks import Receiver

SECRET = b"s3cret-hmac-key"


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _note(event: str = "candidate.quarantined", title: str = "v1.1 (ab12cd34ef56) quarantined in V3") -> Notification:
    return Notification(event, title, "2 negative tests failed", {"candidate": "ab12" * 16, "stage": "V3"}, "danger")


@pytest.fixture
def caplog(caplog):
    """caplog on the notifier's logger itself (tests/support/logs.py says why)."""
    with logged(caplog, "canary_analyzer.notify"):
        yield caplog


@pytest.fixture
def notifiers():
    made: list[Notifier] = []

    def make(*targets, **options) -> Notifier:
        options.setdefault("backoff_seconds", 0.02)
        options.setdefault("timeout_seconds", 2.0)
        made.append(Notifier(targets, ["candidate.quarantined", "canary.failed"], **options))
        return made[-1]

    yield make
    for n in made:
        n.close(0.5)


def test_a_signed_webhook_is_retried_on_500_and_verifies(notifiers, caplog):
    sent_before = _count("canary_analyzer_notifications_total", target="webhook", outcome="sent")
    with Receiver(statuses=[500, 503]) as receiver:
        url = receiver.url + "?token=do-not-log-me"
        n = notifiers(Webhook(SecretStr(url), lambda: SECRET), retries=3)
        http_log = logging.getLogger("urllib3")
        http_log.addHandler(caplog.handler)  # urllib3 warns at its retries with the path (a Slack URL's token)
        try:
            assert n.send(_note())
            tries = receiver.wait_for(3)
            n.close(2.0)
        finally:
            http_log.removeHandler(caplog.handler)
    assert len(receiver.requests) == 3  # 500, 503, then 200: delivered on the third try, not again
    (headers, body), *retries = tries
    assert all(h == headers and b == body for h, b in retries)  # one delivery id and signature per notification
    assert json.loads(body)["event"] == "candidate.quarantined" and json.loads(body)["facts"]["stage"] == "V3"
    stamp, signature = headers["x-canary-analyzer-timestamp"], headers["x-canary-analyzer-signature"]
    expected = "sha256=" + hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signature == expected and notify.verify(SECRET, stamp, signature, body)
    assert not notify.verify(b"another key", stamp, signature, body)
    assert not notify.verify(SECRET, stamp, signature, body.replace(b"V3", b"V2"))
    assert not notify.verify(SECRET, stamp, signature, body, now=int(stamp) + notify.TOLERANCE_SECONDS + 1)
    assert headers["x-canary-analyzer-event"] == "candidate.quarantined"
    assert _count("canary_analyzer_notifications_total", target="webhook", outcome="sent") == sent_before + 1
    logged = caplog.text
    assert "notification sent to webhook" in logged and "do-not-log-me" not in logged and "s3cret" not in logged


def test_retries_are_bounded_then_counted_as_failed(notifiers, caplog):
    failed_before = _count("canary_analyzer_notifications_total", target="webhook", outcome="failed")
    with Receiver(statuses=[500] * 10) as receiver:
        n = notifiers(Webhook(SecretStr(receiver.url), lambda: SECRET), retries=2)
        n.send(_note())
        receiver.wait_for(3)
        n.close(2.0)
        assert len(receiver.requests) == 3  # the first try and 2 retries
    assert _count("canary_analyzer_notifications_total", target="webhook", outcome="failed") == failed_before + 1
    assert "failed after retries: HTTP 500" in caplog.text


def test_a_refusal_is_not_retried(notifiers, caplog):
    with Receiver(statuses=[400, 400]) as receiver:
        n = notifiers(Webhook(SecretStr(receiver.url), lambda: SECRET), retries=3)
        n.send(_note())
        receiver.wait_for(1)
        n.close(2.0)
    assert len(receiver.requests) == 1 and "failed after retries: HTTP 400" in caplog.text


def test_backoff_doubles_between_retries(notifiers):
    with Receiver(statuses=[500, 500, 500]) as receiver:
        n = notifiers(Webhook(SecretStr(receiver.url), lambda: SECRET), retries=3, backoff_seconds=0.2)
        n.send(_note())
        receiver.wait_for(4)
    gaps = [b - a for a, b in itertools.pairwise(receiver.arrived)]
    assert gaps[0] < 0.15 and 0.2 <= gaps[1] < 1.0 and 0.4 <= gaps[2] < 1.5, gaps  # waits 0, 0.2 s, 0.4 s


def test_slack_gets_its_json(notifiers):
    with Receiver() as receiver:
        n = notifiers(Slack(SecretStr(receiver.url)))
        n.send(Notification("canary.failed", "shop/checkout: canary failed", "errors 3.1× stable",
                            {"canary": "7d9c5b"}, "danger", "https://ca.example/reports/abc"))
        (headers, body), = receiver.wait_for(1)
    message = json.loads(body)
    assert message["text"] == "shop/checkout: canary failed"
    (attachment,) = message["attachments"]
    assert attachment["color"] == "#d00000" and attachment["title_link"] == "https://ca.example/reports/abc"
    assert attachment["fields"] == [{"title": "canary", "value": "7d9c5b", "short": True}]
    assert "x-canary-analyzer-signature" not in headers  # Slack's URL is the secret


def test_a_hung_receiver_fills_the_queue_and_the_rest_is_dropped_not_waited_for(notifiers, caplog):
    dropped_before = _count("canary_analyzer_notifications_dropped_total", event="candidate.quarantined")
    with Receiver(hang=True) as receiver:
        n = notifiers(Webhook(SecretStr(receiver.url), lambda: SECRET), queue_size=2, timeout_seconds=5.0)
        n.send(_note())
        receiver.wait_for(1)  # the worker now waits on the hung receiver
        started = time.perf_counter()
        accepted = [n.send(_note()) for _ in range(10)]
        spent = time.perf_counter() - started
    assert accepted == [True, True] + [False] * 8
    assert spent < 0.2, spent  # ten sends, none waited for the receiver (it holds each request 5 s)
    assert _count("canary_analyzer_notifications_dropped_total", event="candidate.quarantined") == dropped_before + 8
    assert caplog.text.count("notification dropped") == 8


def test_events_not_asked_for_are_not_sent(notifiers):
    with Receiver() as receiver:
        n = notifiers(Webhook(SecretStr(receiver.url), lambda: SECRET))
        assert not n.send(_note("stage.rolled_back"))
        assert n.send(_note())
        receiver.wait_for(1)
    assert receiver.events() == ["candidate.quarantined"]


def test_settings_build_one_notifier_per_process_and_refuse_an_unsigned_webhook(tmp_path):
    assert notify.notifier_for(Settings()) is None  # no receiver, no thread
    with pytest.raises(InputError, match="notify_webhook_secret"):
        notify.notifier_for(Settings(notify_webhook_url="http://127.0.0.1:9/hook"))
    key = tmp_path / "hmac"
    key.write_text("from-a-file\n")
    settings = Settings(notify_webhook_url="http://127.0.0.1:9/hook", notify_webhook_secret_file=key)
    first = notify.notifier_for(settings)
    assert first is not None and notify.notifier_for(settings) is first is notify.current()
    (target,) = first.targets
    assert isinstance(target, Webhook) and target.secret() == b"from-a-file"
    key.write_text("rotated\n")
    assert target.secret() == b"rotated"  # read at each delivery
    first.close(0.5)


def test_a_key_that_cannot_be_read_fails_one_delivery_not_the_notifier(notifiers, tmp_path, caplog):
    key = tmp_path / "hmac"  # not there yet: the Secret is not mounted
    with Receiver() as receiver:
        n = notifiers(Webhook(SecretStr(receiver.url), notify.secret_reader(None, key)), retries=0)
        n.send(_note(title="first"))
        deadline = time.monotonic() + 5
        while "FileNotFoundError" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        key.write_text("mounted\n")
        n.send(_note(title="second"))
        (headers, body), = receiver.wait_for(1)
    assert json.loads(body)["title"] == "second" and "FileNotFoundError" in caplog.text
    assert notify.verify(b"mounted", headers["x-canary-analyzer-timestamp"], headers["x-canary-analyzer-signature"],
                         body)
