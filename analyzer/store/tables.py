"""SQLAlchemy tables. Changes here need an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class _WindowKeyColumns:
    """The key of an analysis window (namespace, Rollout, profile, both arms' hashes): the primary key
    of every per-window table, declared once (and first, as the tables were written)."""

    namespace: Mapped[str] = mapped_column(String(63), primary_key=True, sort_order=-1)
    rollout: Mapped[str] = mapped_column(String(253), primary_key=True, sort_order=-1)
    profile: Mapped[str] = mapped_column(String(63), primary_key=True, sort_order=-1)
    canary_hash: Mapped[str] = mapped_column(String(63), primary_key=True, sort_order=-1)
    stable_hash: Mapped[str] = mapped_column(String(63), primary_key=True, sort_order=-1)


class AnalysisWindow(_WindowKeyColumns, Base):
    """The recorded start of a canary's analysis window: every look and every replica uses it."""

    __tablename__ = "analysis_windows"

    start: Mapped[int] = mapped_column(Integer, comment="epoch seconds; step 1 covers (start, start + step]")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnalysisStepRow(_WindowKeyColumns, Base):
    """When a Rollout step's analysis began in a window: the first look that named that step index.

    Pass evidence comes only from the steps since, so that the analysis after a ``setWeight`` judges
    that weight's traffic; kept in the store so that every replica and every restart agrees.
    """

    __tablename__ = "analysis_steps"

    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, comment="epoch seconds")
    step_index: Mapped[int] = mapped_column(Integer, primary_key=True, comment="the Rollout's currentStepIndex")
    first_look: Mapped[int] = mapped_column(Integer, comment="epoch seconds of the step's first look")


class JudgmentRow(Base):
    """One answered look: who asked about what, the verdict, and the whole Judgment as JSON."""

    __tablename__ = "judgments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    namespace: Mapped[str] = mapped_column(String(63))
    rollout: Mapped[str] = mapped_column(String(253))
    profile: Mapped[str] = mapped_column(String(63))
    canary_hash: Mapped[str] = mapped_column(String(63))
    stable_hash: Mapped[str] = mapped_column(String(63))
    verdict: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    steps: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step_seconds: Mapped[int] = mapped_column(Integer)
    input_digest: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_judgments_rollout_time", "namespace", "rollout", "created_at"),
        Index("ix_judgments_canary", "namespace", "rollout", "canary_hash"),
        Index("ix_judgments_created_at", "created_at"),
    )


class WindowMeasurementRow(_WindowKeyColumns, Base):
    """The latest look of one analysis window: how many steps it judged, its policy and what it could not judge.

    One row per window, replaced at each look by the longer one: a judgment of that window (same key and
    ``window_start``) read ``steps`` of them, so its report re-reads that prefix instead of keeping a copy
    per look. The per-step counts are in :class:`WindowMeasurementChunkRow` (rows written before revision
    0006 hold them whole in ``measurement``).
    """

    __tablename__ = "window_measurements"

    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, comment="epoch seconds")
    steps: Mapped[int] = mapped_column(Integer, comment="steps held; only a longer measurement replaces it")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    measurement: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True, comment="analyzer.model.Measurement as written before 0006; null: in the chunks"
    )
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, comment="analyzer.model.Policy the looks were judged by")
    unavailable: Mapped[dict[str, str]] = mapped_column(
        JSON, comment="metric -> why the latest look could not judge it"
    )


class WindowMeasurementChunkRow(_WindowKeyColumns, Base):
    """A run of steps of one window's counts: steps ``chunk * size`` to ``(chunk + 1) * size - 1``
    (:data:`analyzer.store.measurements.CHUNK_STEPS`), so that a look writes only the chunks its new and
    re-read steps fall in, not the whole window."""

    __tablename__ = "window_measurement_chunks"

    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, comment="epoch seconds")
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, comment="the chunk's index in the window")
    through: Mapped[int] = mapped_column(
        Integer, comment="the window's steps when written; only a look of as many steps or more replaces it"
    )
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, comment="analyzer.model.Measurement of the chunk's steps")
    source_digest: Mapped[str | None] = mapped_column(
        String(80), nullable=True, comment="input digest of the look's whole measurement; null: written before 0007"
    )


# --------------------------------------------------------------------------------------------
# Promotion ledger (V1 → V3 → V2): candidates, stages, attempts, evidence, evaluations,
# quarantines, the hash-chained audit log, and API tokens.


class CandidateRow(Base):
    """An immutable, content-addressed set of artifacts; only ``state``/``stage``/``row_version`` change."""

    __tablename__ = "candidates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, comment="sha256 of the canonical artifacts")
    alias: Mapped[str | None] = mapped_column(String(120), nullable=True)
    artifacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    fixes: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(40))
    row_version: Mapped[int] = mapped_column(Integer)


class StageStateRow(Base):
    """One row per stage: what runs there, the last good candidate, and the stage's single active attempt."""

    __tablename__ = "stage_states"

    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    current_candidate_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    current_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_good_candidate_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active_attempt_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    row_version: Mapped[int] = mapped_column(Integer)


class AttemptRow(Base):
    __tablename__ = "promotion_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, comment="time-ordered")
    idempotency_key: Mapped[str] = mapped_column(String(120))
    candidate_id: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(40), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), comment="forward | forced | rollback")
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    justification: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    second_approver: Mapped[str | None] = mapped_column(String(120), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)

    __table_args__ = (
        UniqueConstraint("to_stage", "idempotency_key", name="uq_attempt_idempotency"),
        Index("ix_attempts_stage_state", "to_stage", "state", "id"),
        Index("ix_attempts_candidate", "candidate_id"),
    )


class EvidenceRow(Base):
    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(String(32))
    candidate_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(24), comment="judgment | slo | junit | compat | approval | rollout")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    collected_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("attempt_id", "kind", "sha256", name="uq_evidence_once"),)


class EvaluationRow(Base):
    __tablename__ = "gate_evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(String(32))
    candidate_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(40))
    policy_hash: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="evidence ids and digests")
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    verdict: Mapped[str] = mapped_column(String(16))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QuarantineRow(Base):
    __tablename__ = "quarantines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempt_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason_code: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(4000))
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence_ids: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Append-only; ``hash`` = sha256(``prev_hash`` + canonical JSON of the event), so edits break the chain."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    ts: Mapped[str] = mapped_column(String(40), comment="ISO 8601 UTC, exactly as hashed")
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    candidate_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempt_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    from_state: Mapped[str | None] = mapped_column(String(40), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class TokenRow(Base):
    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), comment="viewer | analysis | operator | approver | admin")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    namespaces: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, comment="scope; null = all")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
