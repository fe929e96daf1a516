"""Ids as unique prefixes everywhere (issue 16): candidates, attempts, evaluations, evidence and judgments
take the same escaped prefix of 8+ characters; an ambiguous one names its matches, none is not found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analyzer.service import promotion as flow
from analyzer.store.judgments import JudgmentRecord, WindowKey, new_id, save_judgment
from analyzer.store.ledger import audit_events
from tests.service.test_promotion import image
from tests.support.ids import burst_ids, common_prefix


@pytest.fixture
def same_second(monkeypatch):
    burst_ids(monkeypatch)


def _events(p) -> int:
    with p.database.session() as s:
        return sum(1 for _ in audit_events(s))


def _judgment(p, verdict: str) -> str:
    key = WindowKey("shop", "checkout", "http", "6d4f8b9c7", "5c8d7e6f1")
    record = JudgmentRecord(new_id(), datetime.now(UTC), key, verdict, 100.0, 5, 0, 300, 60, "d" * 64, {})
    with p.database.session() as s:
        save_judgment(s, record)
    return record.id


def test_every_id_the_flow_takes_may_be_a_unique_prefix(p, same_second):
    c = flow.register(p, [{"name": "app", "image": image(1)}], "ci")
    attempt = flow.promote(p, c.id[:8], "V1", "alice")
    short = attempt.id[:20]  # the time part and 4 random characters: unique
    assert flow.show_attempt(p, short)["id"] == attempt.id
    evidence_id = flow.add_evidence(p, short, "approval", {"by": "bob", "comment": ""}, "bob")
    judged = _judgment(p, "pass")
    judgment_evidence = flow.add_judgment(p, short, judged[:10], "argo")
    assert flow.show_evidence(p, judgment_evidence)["payload"]["judgment_id"] == judged
    evaluation = flow.evaluate(p, short, "ci")  # V1: canary passes, soak not yet: inconclusive
    shown = flow.show_attempt(p, short)
    assert {e["id"] for e in shown["evidence"]} == {evidence_id, judgment_evidence}  # read by the full id
    assert [v["id"] for v in shown["evaluations"]] == [evaluation.id]
    assert flow.show_evidence(p, evidence_id[:20])["attempt_id"] == attempt.id
    again = flow.recompute(p, evaluation.id[:20])
    assert again["evaluation_id"] == evaluation.id and again["same"] is True

    forced_for = flow.register(p, [{"name": "app", "image": image(2)}], "ci")
    forced = flow.promote(p, forced_for.id[:9], "V2", "token:alice", admin=True, force=True,
                          justification="sev1 fix for outage 4711")
    confirmed = flow.confirm(p, forced.id[:20], "token:bob")
    assert confirmed.id == forced.id and confirmed.state == "running"


def test_an_ambiguous_prefix_names_its_matches_and_writes_nothing(p, same_second):
    first = flow.promote(p, flow.register(p, [{"name": "app", "image": image(3)}], "ci").id, "V1", "alice")
    second = flow.promote(p, flow.register(p, [{"name": "app", "image": image(4)}], "ci").id, "V1", "alice")
    assert second.state == "queued"  # V1 runs one attempt at a time
    common = common_prefix([first.id, second.id])
    assert len(common) >= 8
    written = _events(p)
    for call in (lambda: flow.show_attempt(p, common),
                 lambda: flow.add_evidence(p, common, "approval", {"by": "bob", "comment": ""}, "bob"),
                 lambda: flow.evaluate(p, common, "ci")):
        with pytest.raises(flow.AmbiguousIdError) as refused:
            call()
        assert first.id in str(refused.value) and second.id in str(refused.value)
        assert "give more characters" in str(refused.value)
    assert _events(p) == written

    evaluations = [flow.evaluate(p, first.id, "ci").id for _ in range(2)]  # inconclusive twice
    with pytest.raises(flow.AmbiguousIdError, match="gate evaluation id prefix") as refused:
        flow.recompute(p, common_prefix(evaluations))
    assert all(e in str(refused.value) for e in evaluations)


def test_unknown_short_and_pattern_ids_are_not_found(p):
    c = flow.register(p, [{"name": "app", "image": image(5)}], "ci")
    attempt = flow.promote(p, c.id, "V1", "alice")
    with pytest.raises(flow.NotFoundError, match="8 or more characters"):
        flow.show_candidate(p, c.id[:7])
    with pytest.raises(flow.NotFoundError, match="8 or more characters"):
        flow.evaluate(p, attempt.id[:7], "ci")
    for pattern in ("%" * 8, "_" * 12, attempt.id[:12].upper()):  # no patterns; ids are case-sensitive
        with pytest.raises(flow.NotFoundError, match="no promotion attempt"):
            flow.show_attempt(p, pattern)
    with pytest.raises(flow.NotFoundError, match="no gate evaluation"):
        flow.recompute(p, "f" * 32)
    with pytest.raises(flow.NotFoundError, match="no judgment"):
        flow.add_judgment(p, attempt.id, "0" * 10, "argo")
