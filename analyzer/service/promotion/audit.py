"""The ledger's audit chain through the flow: read it, verify it (against a signed checkpoint kept
outside the database, which also catches truncation and consistent rewrites), checkpoint it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from analyzer.promotion.audit import GENESIS, Verification, check_signature, checkpoint, verify
from analyzer.service.promotion.records import PromotionError, Promotions
from analyzer.store.ledger import audit_events, audit_page
from analyzer.store.tables import AuditRow


def verify_audit(p: Promotions, anchor: dict[str, Any] | None = None, key: bytes | None = None) -> Verification:
    """The chain re-walked; with ``anchor`` (a checkpoint, whose signature ``key`` must check) also its
    length and head, which catch truncation and consistent rewrites."""
    if anchor is not None:
        if key is None:
            raise PromotionError("verifying a checkpoint needs the audit key (audit_key)")
        try:
            check_signature(key, anchor)
        except ValueError as error:
            raise PromotionError(str(error)) from None
    with p.database.session() as s:
        return verify(audit_events(s), anchor)


def checkpoint_audit(p: Promotions, key: bytes) -> dict[str, Any]:
    """A signed checkpoint of the chain as it is now (verified first: a broken chain is not anchored)."""
    with p.database.session() as s:
        result = verify(audit_events(s))
        head = s.scalars(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).first()
    if not result.ok:
        raise PromotionError(f"the audit chain is broken ({result.detail}); not checkpointed")
    return checkpoint(key, result.events, head or GENESIS, p.clock().isoformat())


def audit_log(p: Promotions, limit: int = 100, candidate_id: str | None = None,
              before: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` events (oldest first) below ``before``, optionally of one candidate (id prefix)."""
    with p.database.session() as s:
        return audit_page(s, limit, candidate_id, before)
