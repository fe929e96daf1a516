"""The tamper-evident audit chain: each event's hash covers the previous hash and the event itself.

    hash_n = sha256(hash_{n-1} ‖ canonical_json(event_n)),   hash_0 = "0" × 64

Editing, deleting or reordering any stored event changes a hash that every later event depends on;
:func:`verify` re-walks the chain and names the first event that does not match (Haber & Stornetta
1991, "How to time-stamp a digital document").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
FIELDS = ("event_id", "ts", "actor", "action", "candidate_id", "stage", "attempt_id", "from_state", "to_state",
          "reason", "data")


def canonical(event: Mapping[str, Any]) -> str:
    return json.dumps({k: event[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(event)).encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    events: int
    first_break: int | None  # seq of the first event whose stored hashes do not match
    detail: str

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify(events: Iterable[Mapping[str, Any]]) -> Verification:
    """Walk events in ``seq`` order; each must name the previous hash and hash to its stored value."""
    prev, count, last_seq = GENESIS, 0, 0
    for event in events:
        count += 1
        seq = int(event["seq"])
        if seq != last_seq + 1:
            return Verification(count, seq, f"event {seq} follows {last_seq}: an event is missing")
        if event["prev_hash"] != prev:
            return Verification(count, seq, f"event {seq} does not link to the event before it")
        if chain_hash(prev, event) != event["hash"]:
            return Verification(count, seq, f"event {seq} was changed after it was written")
        prev, last_seq = event["hash"], seq
    return Verification(count, None, f"{count} events, chain intact")
