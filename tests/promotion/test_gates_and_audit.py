"""Gate checks as a pure function of policy, evidence and time; the audit chain's tamper evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analyzer.errors import InputError
from analyzer.promotion import audit, gates
from analyzer.promotion.junit import parse_junit
from analyzer.promotion.stages import Approvals, CanaryJudgments, JUnitReport, Soak, Stage, Window

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


def _judgment(i: int, verdict: str, minutes: int) -> gates.Evidence:
    created = (T0 + timedelta(minutes=minutes)).isoformat()
    payload = {"judgment_id": f"j{i}", "verdict": verdict, "created_at": created}
    return gates.Evidence(f"e{i}", "judgment", payload, f"s{i}", T0 + timedelta(minutes=minutes))


def test_verdict_aggregation_and_recomputability():
    stage = Stage(name="V3", checks=[CanaryJudgments(), Soak(seconds=600), Approvals(count=1, required=False)])
    ctx = gates.Context(T0, "alice", T0 + timedelta(minutes=15))
    evidence = [_judgment(1, "inconclusive", 2), _judgment(2, "pass", 12)]
    first = gates.evaluate(stage, evidence, ctx)
    assert first.verdict == "pass"  # the optional approval is missing but does not decide
    assert [c.verdict for c in first.checks] == ["pass", "pass", "inconclusive"]
    assert gates.evaluate(stage, list(reversed(evidence)), ctx) == first  # a pure function
    early = gates.evaluate(stage, evidence, gates.Context(T0, "alice", T0 + timedelta(minutes=5)))
    assert early.verdict == "inconclusive" and "soaking: 5 of 10 min" in early.reasons[1]
    failed = gates.evaluate(stage, [*evidence, _judgment(3, "fail", 14)], ctx)
    assert failed.verdict == "fail"


def test_stale_judgments_and_self_approval_do_not_count():
    ctx = gates.Context(T0 + timedelta(minutes=10), "alice", T0 + timedelta(minutes=20))
    stage = Stage(name="V2", checks=[CanaryJudgments(), Approvals(count=1)])
    before_attempt = [_judgment(1, "pass", 5)]
    assert gates.evaluate(stage, before_attempt, ctx).checks[0].verdict == "inconclusive"
    own = gates.Evidence("a1", "approval", {"by": "alice"}, "x", T0)
    other = gates.Evidence("a2", "approval", {"by": "bob"}, "y", T0)
    assert gates.run_check(Approvals(count=1), [own], ctx).verdict == "inconclusive"
    assert gates.run_check(Approvals(count=1), [own, other], ctx).verdict == "pass"


def test_window_and_junit():
    monday_night = gates.Context(T0, "a", T0.replace(hour=22))
    assert gates.run_check(Window(), [], monday_night).verdict == "inconclusive"
    assert gates.run_check(Window(), [], gates.Context(T0, "a", T0)).verdict == "pass"
    report = parse_junit(
        '<testsuites><testsuite name="negative"><testcase classname="auth" name="expired_token"/>'
        '<testcase classname="auth" name="replay"><failure message="accepted"/></testcase>'
        '<testcase classname="x" name="y"><skipped/></testcase></testsuite></testsuites>'
    )
    assert report == {"name": "", "declared": None, "tests": 3, "failures": 1, "errors": 0, "skipped": 1,
                      "failed_cases": ["auth.replay"]}
    result = gates.run_check(JUnitReport(), [gates.Evidence("r", "junit", report, "z", T0)], monday_night)
    assert result.verdict == "fail" and "auth.replay" in result.reason
    with pytest.raises(InputError, match="DOCTYPE"):
        parse_junit('<!DOCTYPE x [<!ENTITY a "b">]><testsuite/>')
    with pytest.raises(InputError, match="not well-formed"):
        parse_junit("<testsuite>")


def _chain(n: int) -> list[dict]:
    events, prev = [], audit.GENESIS
    for i in range(1, n + 1):
        event = {"seq": i, "event_id": f"e{i}", "ts": f"2026-11-22T0{i}:00:00", "actor": "alice", "action": "x",
                 "candidate_id": "c", "stage": "V1", "attempt_id": None, "from_state": None, "to_state": None,
                 "reason": None, "data": {"n": i}}
        event["prev_hash"], event["hash"] = prev, audit.chain_hash(prev, event)
        prev = event["hash"]
        events.append(event)
    return events


@pytest.mark.parametrize("field", ["actor", "action", "ts", "data", "reason", "to_state"])
def test_any_edit_breaks_the_chain_at_that_event(field):
    events = _chain(5)
    assert audit.verify(events).ok
    events[2][field] = {"n": 99} if field == "data" else "tampered"
    result = audit.verify(events)
    assert result.first_break == 3 and "changed" in result.detail


def test_deleting_or_relinking_an_event_is_detected():
    events = _chain(5)
    assert audit.verify(events[:2] + events[3:]).first_break == 4
    forged = _chain(5)
    forged[3]["prev_hash"] = audit.GENESIS
    assert audit.verify(forged).first_break == 4


KEY = b"audit-key-from-a-secret"


def _rehashed(events: list[dict]) -> list[dict]:
    """What an attacker with database access (and without the key) can do: re-hash everything consistently."""
    prev = audit.GENESIS
    for event in events:
        event["prev_hash"], event["hash"] = prev, audit.chain_hash(prev, event)
        prev = event["hash"]
    return events


def test_a_checkpoint_detects_truncation_at_the_end():
    events = _chain(80)
    anchor = audit.checkpoint(KEY, 80, events[-1]["hash"], "2026-11-22T10:00:00")
    assert audit.verify(events[:30]).ok  # the chain alone cannot see the last 50 go
    result = audit.verify(events[:30], anchor)
    assert not result.ok and result.first_break == 31 and "deleted" in result.detail
    assert audit.verify(events, anchor).ok


def test_a_checkpoint_detects_a_rewrite_in_the_middle_and_in_full():
    events = _chain(80)
    anchor = audit.checkpoint(KEY, 80, events[-1]["hash"], "2026-11-22T10:00:00")
    events[9]["reason"] = "nothing to see"
    rewritten = _rehashed(events)
    assert audit.verify(rewritten).ok  # consistent: the chain alone says intact
    result = audit.verify(rewritten, anchor)
    assert not result.ok and result.first_break == 80 and "rewritten" in result.detail
    # Deleting one in the middle and renumbering is a rewrite too; later events stay trusted up to the anchor.
    renumbered = _rehashed([{**e, "seq": i} for i, e in enumerate(_chain(80)[:40] + _chain(80)[41:], 1)])
    assert not audit.verify(renumbered, anchor).ok


def test_a_checkpoint_cannot_be_forged_without_the_key():
    events = _chain(3)
    forged = audit.checkpoint(b"a guess", 3, events[-1]["hash"], "2026-11-22T10:00:00")
    with pytest.raises(ValueError, match="signature"):
        audit.check_signature(KEY, forged)
    with pytest.raises(ValueError, match="not one"):
        audit.check_signature(KEY, {"events": 3})
    audit.check_signature(KEY, audit.checkpoint(KEY, 3, events[-1]["hash"], "t"))


@pytest.mark.parametrize(("xml", "reason"), [
    ("<testsuite/>", "no test cases"),
    ('<testsuite name="negative" tests="250"/>', "no test cases"),
    ('<testsuite tests="250"><testcase name="a"/></testsuite>', "declares 250 tests but holds 1"),
    ('<testsuites tests="2"><testsuite><testcase name="a"/></testsuite></testsuites>', "declares 2 tests but holds 1"),
    ('<testsuite tests="many"><testcase name="a"/></testsuite>', "declares -1 tests"),
])
def test_an_empty_or_inconsistent_junit_report_never_passes(xml, reason):
    stage = Stage(name="V3", checks=[JUnitReport()])
    report = gates.Evidence("j", "junit", parse_junit(xml), "s", T0)
    result = gates.evaluate(stage, [report], gates.Context(T0, "alice", T0))
    assert result.verdict == "fail" and reason in result.checks[0].reason


def test_a_consistent_junit_report_passes():
    xml = '<testsuites><testsuite tests="2"><testcase name="a"/><testcase name="b"/></testsuite></testsuites>'
    stage = Stage(name="V3", checks=[JUnitReport()])
    report = gates.Evidence("j", "junit", parse_junit(xml), "s", T0)
    assert gates.evaluate(stage, [report], gates.Context(T0, "alice", T0)).verdict == "pass"


def _profiled(i: int, verdict: str, minutes: int, profile: str) -> gates.Evidence:
    e = _judgment(i, verdict, minutes)
    return gates.Evidence(e.id, e.kind, {**e.payload, "profile": profile}, e.sha256, e.collected_at)


def test_a_look_with_another_profile_never_replaces_the_newest_judgment():
    stage = Stage(name="V3", checks=[CanaryJudgments()])
    ctx = gates.Context(T0, "alice", T0 + timedelta(minutes=30))
    failed_then_lax = [_profiled(1, "fail", 5, "http"), _profiled(2, "pass", 10, "lenient")]
    assert gates.evaluate(stage, failed_then_lax, ctx).verdict == "fail"
    undecided_then_lax = [_profiled(1, "inconclusive", 5, "http"), _profiled(2, "pass", 10, "lenient")]
    assert gates.evaluate(stage, undecided_then_lax, ctx).verdict == "inconclusive"
    both_pass = [_profiled(1, "pass", 5, "http"), _profiled(2, "pass", 10, "lenient")]
    assert gates.evaluate(stage, both_pass, ctx).verdict == "pass"
