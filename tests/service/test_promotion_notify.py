"""The flow announces quarantines, rollbacks and forced promotions to a real receiver, after the commit
only; a failed judgment is announced once per canary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from analyzer.service import notify, notify_messages
from analyzer.service import promotion as flow
from analyzer.service.notify import Notification, Notifier, Webhook
from analyzer.service.promotion.records import announce
from analyzer.store.judgments import JudgmentRecord, WindowKey, new_id
from analyzer.store.ledger import writing
from tests.service.test_promotion import _through, image
from tests.support.webhooks import Receiver


@pytest.fixture
def heard(p):
    """The flow ``p`` with a notifier to a live receiver: yields the receiver."""
    with Receiver() as receiver:
        p.notifier = Notifier([Webhook(SecretStr(receiver.url), lambda: b"k")], list(notify.EVENTS))
        yield receiver
        p.notifier.close(2.0)


def _bodies(receiver: Receiver, count: int) -> list[dict]:
    return [json.loads(body) for _, body in receiver.wait_for(count)]


def test_quarantine_of_the_stable_candidate_announces_it_and_the_rollback(p, heard):
    good = flow.register(p, [{"name": "checkout", "image": image(1)}], "ci", alias="v1.0")
    fix = flow.register(p, [{"name": "checkout", "image": image(2)}], "ci", alias="v1.1")
    for candidate in (good, fix):
        for stage, soak in (("V1", 1), ("V3", 16), ("V2", 31)):
            _through(p, candidate.id, stage, soak)
    assert heard.events() == []  # promotions that pass announce nothing
    record = flow.quarantine(p, fix.id, "security", "CVE-2026-1234 in the base image", "oncall")
    quarantined, rolled = _bodies(heard, 2)  # in this order: what happened, then what followed
    assert rolled["event"] == "stage.rolled_back" and rolled["title"] == f"V2 rolled back to v1.0 ({good.id[:12]})"
    assert rolled["facts"]["to"] == good.id and rolled["facts"]["from"] == fix.id
    assert quarantined["event"] == "candidate.quarantined" and quarantined["severity"] == "danger"
    assert quarantined["title"] == f"v1.1 ({fix.id[:12]}) quarantined: security"
    assert quarantined["text"].startswith("CVE-2026-1234 in the base image")
    assert f"rolled back to {good.id[:12]}" in quarantined["text"]
    assert quarantined["facts"]["quarantine"] == record.id and quarantined["facts"]["by"] == "oncall"


def test_a_forced_promotion_is_announced_when_requested_and_when_confirmed(p, heard):
    c = flow.register(p, [{"name": "app", "image": image(3)}], "ci")
    _through(p, c.id, "V1", 1)
    forced = flow.promote(p, c.id, "V2", "token:alice", admin=True, force=True, justification="sev1 fix for 4711")
    (requested,) = _bodies(heard, 1)
    assert requested["event"] == "promotion.forced" and requested["facts"]["attempt"] == forced.id
    assert f"release confirm {forced.id}" in requested["text"] and "sev1 fix for 4711" in requested["text"]
    with pytest.raises(flow.ForbiddenError):
        flow.confirm(p, forced.id, "token:alice")  # refused: nothing announced
    flow.confirm(p, forced.id, "token:bob")
    confirmed = _bodies(heard, 2)[1]
    assert confirmed["event"] == "promotion.confirmed" and confirmed["facts"]["confirmed by"] == "token:bob"
    assert heard.events() == ["promotion.forced", "promotion.confirmed"]


def test_nothing_is_announced_for_a_transaction_that_rolls_back(p, heard):
    with pytest.raises(RuntimeError), writing(p.database) as s:
        announce(p, s, Notification("candidate.quarantined", "rolled back", "never sent"))
        raise RuntimeError("the change fails")
    with writing(p.database) as s:
        announce(p, s, Notification("candidate.quarantined", "committed", "sent"))
    assert [b["title"] for b in _bodies(heard, 1)] == ["committed"]
    p.notifier.close(2.0)
    assert len(heard.requests) == 1


def _record(verdict: str, canary: str) -> JudgmentRecord:
    key = WindowKey("shop", "checkout", "http", canary, "5c8d7e6f1")
    reasons = ["error rate 3.1× stable's (e-value 212 ≥ 20)", "p95 +48 %", "p99 +60 %", "since step 3"]
    return JudgmentRecord(new_id(), datetime.now(UTC), key, verdict, 12.0, 9, 0, 540, 60, "d" * 64,
                          {"reasons": reasons})


def test_a_failed_canary_is_announced_once(monkeypatch):
    with Receiver() as receiver:
        notifier = Notifier([Webhook(SecretStr(receiver.url), lambda: b"k")], ["canary.failed"])
        monkeypatch.setattr(notify, "_current", ((), notifier))
        failed = _record("fail", "6d4f8b9c7")
        assert notify_messages.canary_failed(failed, "https://ca.example/reports/x?sig=y")
        assert not notify_messages.canary_failed(_record("fail", "6d4f8b9c7"), None)  # the same canary again
        assert not notify_messages.canary_failed(_record("pass", "0a1b2c3d4"), None)
        (body,) = [json.loads(b) for _, b in receiver.wait_for(1)]
        notifier.close(2.0)
    assert body["title"] == "shop/checkout: canary failed" and body["link"] == "https://ca.example/reports/x?sig=y"
    assert body["text"].startswith("error rate 3.1× stable's") and body["text"].endswith("(+1 more)")
    assert body["facts"]["judgment"] == failed.id and body["facts"]["canary"] == "6d4f8b9c7"
    assert len(receiver.requests) == 1
