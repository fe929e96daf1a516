"""chunk digests: each stored chunk names the look's measurement it came from, by its input digest

A look whose counts are those a chunk was written from (the same steps and digest) can tell so from this
short column instead of sending the chunk's counts to be compared, and an upsert compares the digests
instead of the counts' text. Chunks written before keep it null: the next look of their window writes
them again. Downgrading drops the column; nothing else changes.

Revision ID: 0007_chunk_digests
Revises: 0006_measurement_chunks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_chunk_digests"
down_revision = "0006_measurement_chunks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("window_measurement_chunks") as table:
        table.add_column(sa.Column(
            "source_digest", sa.String(80), nullable=True,
            comment="input digest of the look's whole measurement; null: written before 0007",
        ))


def downgrade() -> None:
    with op.batch_alter_table("window_measurement_chunks") as table:
        table.drop_column("source_digest")
