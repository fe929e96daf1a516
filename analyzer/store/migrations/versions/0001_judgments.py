"""judgments and analysis windows

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_windows",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("rollout", sa.String(253), primary_key=True),
        sa.Column("profile", sa.String(63), primary_key=True),
        sa.Column("canary_hash", sa.String(63), primary_key=True),
        sa.Column("stable_hash", sa.String(63), primary_key=True),
        sa.Column("start", sa.Integer, nullable=False, comment="epoch seconds; step 1 covers (start, start + step]"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "judgments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("rollout", sa.String(253), nullable=False),
        sa.Column("profile", sa.String(63), nullable=False),
        sa.Column("canary_hash", sa.String(63), nullable=False),
        sa.Column("stable_hash", sa.String(63), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("window_start", sa.Integer, nullable=True),
        sa.Column("window_end", sa.Integer, nullable=True),
        sa.Column("step_seconds", sa.Integer, nullable=False),
        sa.Column("input_digest", sa.String(80), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index("ix_judgments_rollout_time", "judgments", ["namespace", "rollout", "created_at"])
    op.create_index("ix_judgments_canary", "judgments", ["namespace", "rollout", "canary_hash"])
    op.create_index("ix_judgments_created_at", "judgments", ["created_at"])


def downgrade() -> None:
    op.drop_table("judgments")
    op.drop_table("analysis_windows")
