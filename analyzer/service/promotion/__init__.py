"""Promotion use cases: register, promote, add evidence, approve, evaluate the gate, quarantine, status.

Every change is one serialised transaction (:func:`analyzer.store.ledger.writing`) that also appends
its audit event. A stage runs one attempt at a time, claimed by compare-and-swap on the stage row's
version; later requests queue (or get :class:`StageBusyError`) and are re-checked when they reach the
head of the queue. Quarantine wins over promotion: it cancels the candidate's queued and running
attempts in the same transaction, and a running attempt re-reads its candidate before deciding.

One module an idea: ``records`` (the handle, refusals, look-ups), ``candidates``, ``attempts``
(request, two-person confirm, the stage lock, deployment), ``evidence``, ``quarantines`` (and
rollback), ``evaluation`` (the gate and its recomputation), ``views`` and ``audit``. Callers use this
package's names (``from analyzer.service import promotion as flow``; ``flow.promote(…)``).
"""

from analyzer.service.promotion.attempts import confirm, promote
from analyzer.service.promotion.audit import audit_log, checkpoint_audit, verify_audit
from analyzer.service.promotion.candidates import IMAGE, candidate_id_of, register
from analyzer.service.promotion.evaluation import BLOCK_AFTER_ERRORS, evaluate, recompute
from analyzer.service.promotion.evidence import add_evidence, add_judgment
from analyzer.service.promotion.quarantines import REASON_CODES, quarantine
from analyzer.service.promotion.records import (
    AWAITING_SECOND,
    MIN_PREFIX,
    OPEN_STATES,
    AmbiguousIdError,
    ForbiddenError,
    NotFoundError,
    PromotionError,
    Promotions,
    StageBusyError,
    promotions_for,
)
from analyzer.service.promotion.views import (
    attempt_view,
    candidate_view,
    evaluation_view,
    evidence_view,
    quarantine_records,
    quarantine_statistics,
    quarantine_view,
    running_attempts,
    show_attempt,
    show_candidate,
    show_evidence,
    status,
)
from analyzer.store.tables import AttemptRow, CandidateRow, EvaluationRow, EvidenceRow, QuarantineRow

__all__ = [
    "AWAITING_SECOND", "BLOCK_AFTER_ERRORS", "IMAGE", "MIN_PREFIX", "OPEN_STATES", "REASON_CODES", "AmbiguousIdError",
    "AttemptRow", "CandidateRow", "EvaluationRow", "EvidenceRow", "ForbiddenError", "NotFoundError", "PromotionError",
    "Promotions", "QuarantineRow", "StageBusyError", "add_evidence", "add_judgment", "attempt_view", "audit_log",
    "candidate_id_of", "candidate_view", "checkpoint_audit", "confirm", "evaluate", "evaluation_view",
    "evidence_view", "promote", "promotions_for", "quarantine", "quarantine_records", "quarantine_statistics",
    "quarantine_view", "recompute", "register", "running_attempts", "show_attempt", "show_candidate", "show_evidence",
    "status", "verify_audit",
]
