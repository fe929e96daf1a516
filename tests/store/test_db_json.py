"""JSON columns are written by pydantic-core's serializer: what is read back is what ``json.dumps`` gave."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from analyzer.store.db import _json
from analyzer.store.judgments import JudgmentRecord, WindowKey, get_judgment, new_id, save_judgment

BODY = {
    "reasons": ["p95 latency 1.3× stable — café", "ok"],
    "score": 0.1, "tiny": 1e-7, "huge": 1.7976931348623157e308, "count": 2**62, "negative": -3,
    "nested": {"steps": [[1, 2.5], [3, None]], "flags": [True, False]}, "empty": {},
}


def test_the_serializer_reads_back_as_json_dumps_does():
    odd = {**BODY, "nan": float("nan"), "inf": float("-inf"), "tuple": (1, 2), 7: "int key"}
    assert json.dumps(json.loads(_json(odd))) == json.dumps(json.loads(json.dumps(odd)))


def test_a_judgment_body_round_trips(database):
    record = JudgmentRecord(new_id(), datetime(2026, 12, 1, tzinfo=UTC), WindowKey("ns", "ro", "http", "c", "s"),
                            "pass", 0.9, 30, 0, 1800, 60, "d" * 64, BODY)
    with database.session() as session:
        save_judgment(session, record)
    with database.session() as session:
        assert get_judgment(session, record.id) == record
