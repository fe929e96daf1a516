"""token scopes: an API token may be limited to namespaces (one identity model, issue 13)

Revision ID: 0005_token_scopes
Revises: 0004 (analysis steps)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_token_scopes"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("namespaces", sa.JSON, nullable=True, comment="scope; null = all"))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("namespaces")
