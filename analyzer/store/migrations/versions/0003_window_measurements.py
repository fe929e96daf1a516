"""window measurements: the latest per-step counts of each analysis window, for report pages

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "window_measurements",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("rollout", sa.String(253), primary_key=True),
        sa.Column("profile", sa.String(63), primary_key=True),
        sa.Column("canary_hash", sa.String(63), primary_key=True),
        sa.Column("stable_hash", sa.String(63), primary_key=True),
        sa.Column("window_start", sa.Integer, primary_key=True, comment="epoch seconds"),
        sa.Column(
            "steps", sa.Integer, nullable=False, comment="steps held; only a longer measurement replaces it"
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measurement", sa.JSON, nullable=False, comment="analyzer.model.Measurement"),
        sa.Column("policy", sa.JSON, nullable=False, comment="analyzer.model.Policy the looks were judged by"),
        sa.Column(
            "unavailable", sa.JSON, nullable=False, comment="metric -> why the latest look could not judge it"
        ),
    )


def downgrade() -> None:
    op.drop_table("window_measurements")
