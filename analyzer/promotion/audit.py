"""The tamper-evident audit chain: each event's hash covers the previous hash and the event itself.

    hash_n = sha256(hash_{n-1} ‖ canonical_json(event_n)),   hash_0 = "0" × 64

Editing, deleting or reordering any stored event changes a hash that every later event depends on;
:func:`verify` re-walks the chain and names the first event that does not match (Haber & Stornetta
1991, "How to time-stamp a digital document").

The chain alone cannot see what someone with write access to the database does consistently: delete
the newest events, or edit one and re-hash all after it. An anchor kept outside the database can: a
*checkpoint* (event count and head hash, signed with HMAC-SHA256 under a key the database never holds)
taken now and then and stored elsewhere. Verified against it, a chain shorter than the checkpoint
(truncation) or whose event at the checkpoint's count has another hash (a rewrite) is broken. What
happened after the newest checkpoint is only as safe as the chain itself.
"""

from __future__ import annotations

import hashlib
import hmac
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


def _signature(key: bytes, events: int, head: str, at: str) -> str:
    return hmac.new(key, f"{events}:{head}:{at}".encode(), hashlib.sha256).hexdigest()


def checkpoint(key: bytes, events: int, head: str, at: str) -> dict[str, Any]:
    """A signed anchor of the chain: its ``events`` count and the ``head`` hash, at time ``at``."""
    return {"events": events, "head": head, "at": at, "hmac": _signature(key, events, head, at)}


def check_signature(key: bytes, anchor: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``anchor`` was signed with ``key`` and is well-formed."""
    try:
        expected = _signature(key, int(anchor["events"]), str(anchor["head"]), str(anchor["at"]))
        valid = hmac.compare_digest(expected, str(anchor["hmac"]))
    except (KeyError, TypeError, ValueError):
        raise ValueError("the checkpoint is not one `audit checkpoint` wrote") from None
    if not valid:
        raise ValueError("the checkpoint's signature does not match the audit key: forged, or another key")


def verify(events: Iterable[Mapping[str, Any]], anchor: Mapping[str, Any] | None = None) -> Verification:
    """Walk events in ``seq`` order; each must name the previous hash and hash to its stored value.
    With a (signature-checked) ``anchor``, the chain must also reach its count with its head hash."""
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
        if anchor is not None and seq == int(anchor["events"]) and prev != anchor["head"]:
            return Verification(count, seq, f"event {seq} is not the one checkpointed at {anchor['at']}: "
                                            "the chain was rewritten")
    if anchor is not None and count < int(anchor["events"]):
        return Verification(count, count + 1, f"{count} events, but {anchor['events']} were checkpointed at "
                                              f"{anchor['at']}: events were deleted")
    anchored = f", {anchor['events']} of them as checkpointed at {anchor['at']}" if anchor is not None else ""
    return Verification(count, None, f"{count} events, chain intact{anchored}")
