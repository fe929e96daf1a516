"""The promotion flow on SQLite and on a real PostgreSQL: walk, quarantine, rollback, races, tampering."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from analyzer.service import promotion as flow
from analyzer.store.tables import AttemptRow, StageStateRow


def image(n: int) -> str:
    return f"registry.example.com/shop/checkout@sha256:{n:064x}"


def _judgment(p, attempt_id: str, verdict: str) -> None:
    payload = {"judgment_id": f"j-{attempt_id[-6:]}", "verdict": verdict, "created_at": p.clock().isoformat()}
    flow.add_evidence(p, attempt_id, "judgment", payload, "argo")


def _through(p, candidate_id: str, stage: str, soak_minutes: int) -> None:
    attempt = flow.promote(p, candidate_id, stage, "alice")
    assert attempt.state == "running"
    p.clock.now += timedelta(minutes=soak_minutes)
    _judgment(p, attempt.id, "pass")
    if stage == "V3":
        flow.add_evidence(p, attempt.id, "junit", {"name": "neg", "tests": 40, "failures": 0, "errors": 0,
                                                   "skipped": 0, "failed_cases": []}, "ci")
    if stage == "V2":
        flow.add_evidence(p, attempt.id, "approval", {"by": "bob", "comment": "ok"}, "bob")
    assert flow.evaluate(p, attempt.id, "ci").verdict == "pass"


def test_walk_quarantine_in_v3_and_rollback_in_v2(p):
    good = flow.register(p, [{"name": "checkout", "image": image(1)}], "ci", alias="v1.0")
    for stage, soak in (("V1", 1), ("V3", 16), ("V2", 31)):
        _through(p, good.id, stage, soak)
    with p.database.session() as s:
        assert s.get(flow.CandidateRow, good.id).state == "stable"

    bad = flow.register(p, [{"name": "checkout", "image": image(2)}], "ci", alias="v1.1")
    _through(p, bad.id, "V1", 1)
    attempt = flow.promote(p, bad.id, None, "alice")  # the next stage: V3
    assert attempt.to_stage == "V3"
    flow.add_evidence(p, attempt.id, "junit", {"name": "neg", "tests": 40, "failures": 2, "errors": 0, "skipped": 0,
                                               "failed_cases": ["auth.replay", "auth.expired"]}, "ci")
    assert flow.evaluate(p, attempt.id, "ci").verdict == "fail"
    with p.database.session() as s:
        assert s.get(flow.CandidateRow, bad.id).state == "quarantined"
        record = s.scalars(select(flow.QuarantineRow).where(flow.QuarantineRow.candidate_id == bad.id)).one()
        assert record.reason_code == "negative_test_failed" and "auth.replay" in record.detail
        assert record.impact["stages_running_candidate"] == ["V1", "V3"]  # still current in V1, verifying in V3
        assert s.get(StageStateRow, "V3").active_attempt_id is None
    with pytest.raises(flow.PromotionError, match="quarantined: a fix is a new candidate"):
        flow.promote(p, bad.id, "V1", "alice")
    fix = flow.register(p, [{"name": "checkout", "image": image(3)}], "ci", alias="v1.1.1", fixes=bad.id[:12])
    assert fix.fixes == bad.id
    for stage, soak in (("V1", 1), ("V3", 16), ("V2", 31)):
        _through(p, fix.id, stage, soak)

    # A failure found in V2 after the fact: quarantine rolls V2 back to the last good candidate.
    record = flow.quarantine(p, fix.id, "manual", "error budget burnt after release", "oncall",
                             impact_analysis={"customers": "checkout EU"})
    with p.database.session() as s:
        assert s.get(flow.CandidateRow, good.id).state == "stable"
        assert s.get(StageStateRow, "V2").current_candidate_id == good.id
        rollback = s.get(AttemptRow, record.impact["rollback_attempt_ids"][0])
        assert rollback.kind == "rollback" and rollback.candidate_id == good.id
    assert record.impact["reported"] == {"customers": "checkout EU"}
    assert flow.verify_audit(p).ok


def test_skipping_v3_needs_a_forced_promotion_with_two_people(p):
    c = flow.register(p, [{"name": "app", "image": image(7)}], "ci")
    _through(p, c.id, "V1", 1)
    with pytest.raises(flow.PromotionError, match="skips V3"):
        flow.promote(p, c.id, "V2", "alice")
    with pytest.raises(flow.PromotionError, match="needs an admin"):
        flow.promote(p, c.id, "V2", "alice", force=True, justification="sev1 fix for outage 4711")
    forced = flow.promote(p, c.id, "V2", "token:alice", admin=True, force=True,
                          justification="sev1 fix for outage 4711")
    assert forced.kind == "forced" and forced.state == "awaiting_second"  # nothing runs on one person's word
    assert flow.show_candidate(p, c.id)["state"] == "qualified:V1"
    with pytest.raises(flow.ForbiddenError, match="a different identity"):
        flow.confirm(p, forced.id, "token:alice")
    confirmed = flow.confirm(p, forced.id, "token:bob")
    assert confirmed.state == "running" and confirmed.second_approver == "token:bob"
    with pytest.raises(flow.PromotionError, match="not awaiting"):
        flow.confirm(p, forced.id, "token:carol")
    with p.database.session() as s:
        from analyzer.store.ledger import audit_events

        events = list(audit_events(s))
        requested = [e for e in events if e["action"] == "promotion.requested"][-1]
        assert requested["data"]["forced"] is True and requested["reason"] == "sev1 fix for outage 4711"
        assert requested["actor"] == "token:alice"
        confirmation = [e for e in events if e["action"] == "promotion.confirmed"]
        assert [(e["actor"], e["data"]) for e in confirmation] == [
            ("token:bob", {"requested_by": "token:alice", "confirmed_by": "token:bob"})]


def test_idempotency_key_and_duplicate_requests(p):
    c = flow.register(p, [{"name": "app", "image": image(8)}], "ci")
    assert flow.register(p, [{"name": "app", "image": image(8)}], "ci").id == c.id
    first = flow.promote(p, c.id, "V1", "alice", idempotency_key="ci-run-1")
    again = flow.promote(p, c.id, "V1", "alice", idempotency_key="ci-run-1")
    other_key = flow.promote(p, c.id, "V1", "alice", idempotency_key="ci-run-2")
    assert first.id == again.id == other_key.id  # the same candidate/stage while one runs
    with pytest.raises(flow.PromotionError, match="pinned by digest"):
        flow.register(p, [{"name": "app", "image": "registry.example.com/app:latest"}], "ci")


def _qualified_for_v1_twenty(p) -> list[str]:
    return [flow.register(p, [{"name": "app", "image": image(100 + i)}], "ci").id for i in range(20)]


def test_twenty_concurrent_promotions_into_one_stage(p):
    ids = _qualified_for_v1_twenty(p)
    barrier, results, errors = threading.Barrier(20), {}, []

    def request(cid: str) -> None:
        barrier.wait()
        try:
            results[cid] = flow.promote(p, cid, "V1", f"ci-{cid[:4]}").state
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=request, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results.values()) == ["queued"] * 19 + ["running"]
    with p.database.session() as s:
        stage = s.get(StageStateRow, "V1")
        running = s.scalars(select(AttemptRow).where(AttemptRow.state == "running")).all()
        assert len(running) == 1 and stage.active_attempt_id == running[0].id
        assert len(s.scalars(select(AttemptRow).where(AttemptRow.state == "queued")).all()) == 19
    assert flow.verify_audit(p).ok
    with pytest.raises(flow.StageBusyError):
        flow.promote(p, flow.register(p, [{"name": "app", "image": image(999)}], "ci").id, "V1", "x", queue=False)


def _race(p, cid: str) -> None:
    """A promotion and a quarantine of the same candidate, released at the same instant."""
    barrier = threading.Barrier(2)

    def promote() -> None:
        barrier.wait()
        with contextlib.suppress(flow.PromotionError):  # refused when the quarantine came first
            flow.promote(p, cid, "V1", "alice")

    def quarantine() -> None:
        barrier.wait()
        flow.quarantine(p, cid, "security", "CVE in base image", "secops")

    threads = [threading.Thread(target=promote), threading.Thread(target=quarantine)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_quarantine_racing_a_promotion_wins(p):
    for round_ in range(5):
        c = flow.register(p, [{"name": "app", "image": image(500 + round_)}], "ci")
        _race(p, c.id)
        with p.database.session() as s:
            assert s.get(flow.CandidateRow, c.id).state == "quarantined"
            live = s.scalars(select(AttemptRow).where(AttemptRow.candidate_id == c.id,
                                                      AttemptRow.state.in_(("queued", "running")))).all()
            assert live == []
            stage = s.get(StageStateRow, "V1")  # the stage is free: the quarantined candidate holds nothing
            assert stage is None or stage.active_attempt_id is None
    assert flow.verify_audit(p).ok


def test_editing_an_audit_row_in_the_database_is_detected(p):
    c = flow.register(p, [{"name": "app", "image": image(42)}], "ci")
    flow.promote(p, c.id, "V1", "alice")
    assert flow.verify_audit(p).ok
    with p.database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    result = flow.verify_audit(p)
    assert result.first_break == 2 and "changed" in result.detail


def test_gate_errors_retry_then_block_the_attempt(p):
    from analyzer.promotion.stages import Pipeline, SloCheck, Stage

    p.pipeline = Pipeline(stages=[Stage(name="V1", checks=[SloCheck()])])
    p.slo_reader = lambda stage: {"stage": stage.name, "status": "error", "reason": "Prometheus is unreachable"}
    c = flow.register(p, [{"name": "app", "image": image(77)}], "ci")
    attempt = flow.promote(p, c.id, "V1", "alice")
    verdicts = [flow.evaluate(p, attempt.id, "ci").verdict for _ in range(3)]
    assert verdicts == ["error"] * 3
    with p.database.session() as s:
        row = s.get(AttemptRow, attempt.id)
        assert row.state == "blocked" and "3 gate errors in a row" in row.reason
        assert s.get(StageStateRow, "V1").active_attempt_id is None
    p.slo_reader = lambda stage: {"stage": stage.name, "status": "breach", "error_rate": 0.09, "p95_seconds": 0.1}
    again = flow.promote(p, c.id, "V1", "alice", idempotency_key="retry-1")
    assert flow.evaluate(p, again.id, "ci").verdict == "fail"
    assert flow.quarantine_records(p)[0]["reason_code"] == "slo_breach"


def test_recorded_evaluations_recompute_to_the_same_verdict(p):
    c = flow.register(p, [{"name": "app", "image": image(321)}], "ci")
    attempt = flow.promote(p, c.id, "V1", "alice")
    first = flow.evaluate(p, attempt.id, "ci")  # inconclusive: no judgment yet
    p.clock.now += timedelta(minutes=2)
    _judgment(p, attempt.id, "pass")
    second = flow.evaluate(p, attempt.id, "ci")
    assert (first.verdict, second.verdict) == ("inconclusive", "pass")
    for evaluation in (first, second):
        again = flow.recompute(p, evaluation.id)
        assert again["recomputable"] and again["same"], again
    with p.database.engine.begin() as connection:  # someone edits the evidence afterwards
        connection.execute(text("UPDATE evidence SET payload = :p WHERE kind = 'judgment'"),
                           {"p": '{"judgment_id": "x", "verdict": "fail", "created_at": "2026-11-23T10:02:00+00:00"}'})
    tampered = flow.recompute(p, second.id)
    assert tampered["same"] is False and "changed" in tampered["reason"]


def test_a_rolled_back_transaction_leaves_no_deployment_for_the_next_request(p, monkeypatch):
    """What a transaction plans to deploy lives on its session: a rolled-back plan is never deployed, and
    another request on the same (shared) flow deploys its own attempt only."""
    from analyzer.service.promotion import attempts
    from tests.service.test_promotion_walk import PIPELINE

    p.pipeline = PIPELINE  # stages with Rollouts; no cluster: each deployment is recorded as a dry-run plan
    first = flow.register(p, [{"name": "checkout", "image": image(41)}], "ci")
    second = flow.register(p, [{"name": "checkout", "image": image(42)}], "ci")
    real_start = attempts.start

    def start_then_fail(*args, **kwargs):
        real_start(*args, **kwargs)
        raise RuntimeError("the transaction fails after planning its deployment")

    monkeypatch.setattr(attempts, "start", start_then_fail)
    with pytest.raises(RuntimeError):
        flow.promote(p, first.id, "V1", "alice")
    monkeypatch.setattr(attempts, "start", real_start)
    attempt = flow.promote(p, second.id, "V1", "alice")
    plans = [e["payload"] for e in flow.show_attempt(p, attempt.id)["evidence"] if e["kind"] == "rollout"]
    assert plans == [{"namespace": "shop", "name": "checkout-v1", "dry_run": True,
                      "set_image": [{"container": "checkout", "image": image(42)}]}]
    assert flow.show_candidate(p, first.id)["attempts"] == []  # rolled back: no attempt, nothing deployed
