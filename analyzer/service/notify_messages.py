"""What the notifications say: one builder per event, from the records the flow and the analysis write.

Each says, in its title, what happened to what; in its text, why and what follows; in its facts, the
ids to act on (``release confirm ATTEMPT``, ``judgments show ID``). The promotion flow builds them
inside its transactions and sends them after the commit (:func:`analyzer.service.promotion.records.announce`);
the analysis calls :func:`canary_failed` with a recorded judgment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from analyzer.service import notify
from analyzer.service.notify import Notification
from analyzer.store.judgments import JudgmentRecord
from analyzer.store.tables import AttemptRow, CandidateRow, QuarantineRow

#: Canaries already announced as failed (Argo may look again after a fail): each is said once per process.
_ANNOUNCED: OrderedDict[tuple[str, ...], None] = OrderedDict()
_ANNOUNCED_MAX = 1024
_ANNOUNCED_LOCK = threading.Lock()
_REASONS_SHOWN = 3


def label(candidate: CandidateRow) -> str:
    """``alias (id[:12])``, or the short id alone."""
    return f"{candidate.alias} ({candidate.id[:12]})" if candidate.alias else candidate.id[:12]


def quarantined(candidate: CandidateRow, record: QuarantineRow) -> Notification:
    impact: dict[str, Any] = record.impact
    where = f" in {record.stage}" if record.stage else ""
    follows = []
    if impact.get("pending_attempts_cancelled"):
        follows.append(f"{len(impact['pending_attempts_cancelled'])} pending attempt(s) cancelled")
    if impact.get("rolled_back_to"):
        follows.append(f"rolled back to {str(impact['rolled_back_to'])[:12]}")
    facts = {"candidate": candidate.id, "reason code": record.reason_code, "quarantine": record.id,
             "by": record.created_by}
    if record.stage:
        facts["stage"] = record.stage
    if record.attempt_id:
        facts["attempt"] = record.attempt_id
    if impact.get("stages_running_candidate"):
        facts["running in"] = ", ".join(impact["stages_running_candidate"])
    return Notification("candidate.quarantined", f"{label(candidate)} quarantined{where}: {record.reason_code}",
                        record.detail + (f" ({'; '.join(follows)})" if follows else ""), facts, "danger")


def rolled_back(stage: str, bad: CandidateRow, target: CandidateRow, attempt: AttemptRow,
                record: QuarantineRow) -> Notification:
    return Notification(
        "stage.rolled_back", f"{stage} rolled back to {label(target)}",
        f"{label(bad)} was quarantined ({record.reason_code}): {stage} runs {label(target)} again.",
        {"stage": stage, "from": bad.id, "to": target.id, "rollback attempt": attempt.id, "quarantine": record.id},
        "warning",
    )


def forced(candidate: CandidateRow, attempt: AttemptRow) -> Notification:
    waits = attempt.state == "awaiting_second"
    follows = (f"It waits for a second approver: canary-analyzer release confirm {attempt.id}" if waits
               else f"It is {attempt.state} (the stages need no second approver).")
    return Notification(
        "promotion.forced",
        f"Forced promotion of {label(candidate)} to {attempt.to_stage} requested by {attempt.requested_by}",
        f"Why: {attempt.justification}. {follows}",
        {"candidate": candidate.id, "attempt": attempt.id, "to": attempt.to_stage,
         "requested by": attempt.requested_by},
        "warning",
    )


def confirmed(candidate: CandidateRow, attempt: AttemptRow) -> Notification:
    return Notification(
        "promotion.confirmed",
        f"Forced promotion of {label(candidate)} to {attempt.to_stage} confirmed by {attempt.second_approver}",
        f"Requested by {attempt.requested_by}: {attempt.justification}. The attempt is {attempt.state}.",
        {"candidate": candidate.id, "attempt": attempt.id, "to": attempt.to_stage,
         "requested by": attempt.requested_by, "confirmed by": str(attempt.second_approver)},
        "warning",
    )


def canary_failed(record: JudgmentRecord, report_url: str | None = None) -> bool:
    """Announce a recorded judgment if it failed (once per canary and process); returns at once.

    The analysis calls this after recording a look: ``notify_messages.canary_failed(record, report_url)``.
    False when it did not fail, was announced already, or no notifier is configured."""
    notifier = notify.current()
    if notifier is None or record.verdict != "fail" or not notifier.wants("canary.failed"):
        return False
    key = record.key
    canary = (key.namespace, key.rollout, key.canary_hash, key.stable_hash)
    with _ANNOUNCED_LOCK:
        if canary in _ANNOUNCED:
            return False
        _ANNOUNCED[canary] = None
        if len(_ANNOUNCED) > _ANNOUNCED_MAX:
            _ANNOUNCED.popitem(last=False)
    reasons = [str(r) for r in record.body.get("reasons", [])]
    text = "; ".join(reasons[:_REASONS_SHOWN]) + (f" (+{len(reasons) - _REASONS_SHOWN} more)"
                                                  if len(reasons) > _REASONS_SHOWN else "")
    facts = {"rollout": f"{key.namespace}/{key.rollout}", "canary": key.canary_hash, "stable": key.stable_hash,
             "profile": key.profile, "score": f"{record.score:g}", "steps": str(record.steps), "judgment": record.id}
    return notifier.send(Notification(
        "canary.failed", f"{key.namespace}/{key.rollout}: canary failed",
        text or "the canary is worse than stable", facts, "danger", report_url, record.created_at))
