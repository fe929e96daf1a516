"""SQLAlchemy tables. Changes here need an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AnalysisWindow(Base):
    """The recorded start of a canary's analysis window: every look and every replica uses it."""

    __tablename__ = "analysis_windows"

    namespace: Mapped[str] = mapped_column(String(63), primary_key=True)
    rollout: Mapped[str] = mapped_column(String(253), primary_key=True)
    profile: Mapped[str] = mapped_column(String(63), primary_key=True)
    canary_hash: Mapped[str] = mapped_column(String(63), primary_key=True)
    stable_hash: Mapped[str] = mapped_column(String(63), primary_key=True)
    start: Mapped[int] = mapped_column(Integer, comment="epoch seconds; step 1 covers (start, start + step]")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
