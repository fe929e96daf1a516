"""Answers about secrets kept for a while: expiry, the bound, and no secret in the keys."""

from __future__ import annotations

from analyzer.server.expiring import Expiring, digest
from tests.support.service import Clock


def test_an_answer_is_kept_until_its_expiry_none_included():
    clock = Clock(100.0)
    kept: Expiring[str | None] = Expiring(10, clock)
    kept.keep(digest("a"), "alice", 5)
    kept.keep(digest("b"), None, 1)
    assert kept.get(digest("a")) == ("alice",) and kept.get(digest("b")) == (None,)
    clock.advance(1)
    assert kept.get(digest("a")) == ("alice",) and kept.get(digest("b")) is None
    clock.advance(4)
    assert kept.get(digest("a")) is None


def test_zero_seconds_keeps_nothing_and_the_oldest_go_past_the_bound():
    kept: Expiring[int] = Expiring(2, Clock(0.0))
    kept.keep(digest("zero"), 0, 0)
    assert kept.get(digest("zero")) is None and len(kept) == 0
    for n in range(3):
        kept.keep(digest(str(n)), n, 60)
    assert len(kept) == 2 and kept.get(digest("0")) is None and kept.get(digest("2")) == (2,)


def test_keys_are_digests_not_secrets():
    assert digest("s3cret") != b"s3cret" and len(digest("s3cret")) == 32 and b"s3cret" not in digest("s3cret")
