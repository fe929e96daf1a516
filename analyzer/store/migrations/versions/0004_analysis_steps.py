"""analysis steps: when each Rollout step's analysis began in a window (its first look)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_steps",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("rollout", sa.String(253), primary_key=True),
        sa.Column("profile", sa.String(63), primary_key=True),
        sa.Column("canary_hash", sa.String(63), primary_key=True),
        sa.Column("stable_hash", sa.String(63), primary_key=True),
        sa.Column("window_start", sa.Integer, primary_key=True, comment="epoch seconds"),
        sa.Column("step_index", sa.Integer, primary_key=True, comment="the Rollout's currentStepIndex"),
        sa.Column("first_look", sa.Integer, nullable=False, comment="epoch seconds of the step's first look"),
    )


def downgrade() -> None:
    op.drop_table("analysis_steps")
