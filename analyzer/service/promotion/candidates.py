"""Candidates: immutable, content-addressed sets of artifacts (images pinned by digest)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from analyzer.promotion import machine
from analyzer.service.promotion.records import PromotionError, Promotions, find_candidate
from analyzer.store.ledger import append_audit, writing
from analyzer.store.tables import CandidateRow

IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")


def candidate_id_of(artifacts: list[dict[str, str]]) -> str:
    """The candidate's id: SHA-256 of its artifacts' canonical JSON (the same images, the same id)."""
    canonical = json.dumps(sorted(artifacts, key=lambda a: a["name"]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def register(p: Promotions, artifacts: list[dict[str, str]], actor: str, alias: str | None = None,
             fixes: str | None = None, source: dict[str, Any] | None = None) -> CandidateRow:
    """An immutable candidate; registering the same artifacts again returns the same one."""
    if not artifacts:
        raise PromotionError("a candidate needs at least one artifact (name=image@sha256:…)")
    for a in artifacts:
        if not IMAGE.match(a.get("image", "")):
            raise PromotionError(f"artifact {a.get('name')!r}: images are pinned by digest (repo@sha256:<64 hex>), "
                                 f"got {a.get('image')!r}")
    cid = candidate_id_of(artifacts)
    with writing(p.database) as s:
        existing = s.get(CandidateRow, cid)
        if existing is not None:
            return existing
        if fixes is not None:
            fixes = find_candidate(s, fixes).id
        now = p.clock()
        row = CandidateRow(id=cid, alias=alias, artifacts=artifacts, fixes=fixes, source=source or {}, created_at=now,
                           created_by=actor, state=machine.REGISTERED, row_version=0)
        s.add(row)
        append_audit(s, now, actor, "candidate.registered", candidate_id=cid, to_state=machine.REGISTERED,
                     data={"artifacts": artifacts, "alias": alias, "fixes": fixes})
        return row
