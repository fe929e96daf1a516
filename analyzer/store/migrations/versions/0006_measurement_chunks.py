"""measurement chunks: a window's per-step counts in runs of steps, so that a look writes only its new ones

Rows written before keep their whole measurement in ``window_measurements.measurement`` (now nullable)
and are read as they are; looks from now on write chunks and leave it null. Downgrading joins each
window's chunks back into ``measurement``, so no stored count is lost either way.

Revision ID: 0006_measurement_chunks
Revises: 0005_token_scopes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_measurement_chunks"
down_revision = "0005_token_scopes"
branch_labels = None
depends_on = None

_KEY = ("namespace", "rollout", "profile", "canary_hash", "stable_hash", "window_start")


def upgrade() -> None:
    op.create_table(
        "window_measurement_chunks",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("rollout", sa.String(253), primary_key=True),
        sa.Column("profile", sa.String(63), primary_key=True),
        sa.Column("canary_hash", sa.String(63), primary_key=True),
        sa.Column("stable_hash", sa.String(63), primary_key=True),
        sa.Column("window_start", sa.Integer, primary_key=True, comment="epoch seconds"),
        sa.Column("chunk", sa.Integer, primary_key=True, comment="the chunk's index in the window"),
        sa.Column(
            "through",
            sa.Integer,
            nullable=False,
            comment="the window's steps when written; only a look of as many steps or more replaces it",
        ),
        sa.Column("counts", sa.JSON, nullable=False, comment="analyzer.model.Measurement of the chunk's steps"),
    )
    with op.batch_alter_table("window_measurements") as table:
        table.alter_column(
            "measurement",
            existing_type=sa.JSON,
            nullable=True,
            comment="analyzer.model.Measurement as written before 0006; null: in the chunks",
        )


def downgrade() -> None:
    """Each window's chunks joined back into its row (a window whose chunks do not join, which no report
    page can draw either, loses its row); then the chunks table goes."""
    from analyzer.model.steps import from_chunks
    from analyzer.store.measurements import CHUNK_STEPS

    connection = op.get_bind()
    windows = sa.table("window_measurements", *map(sa.column, _KEY), sa.column("steps"),
                       sa.column("measurement", sa.JSON))
    chunks = sa.table("window_measurement_chunks", *map(sa.column, _KEY), sa.column("chunk"),
                      sa.column("counts", sa.JSON))
    chunked = connection.execute(sa.select(windows).where(windows.c.measurement.is_(None))).mappings().all()
    for row in chunked:
        where = [windows.c[name] == row[name] for name in _KEY]
        found = connection.execute(
            sa.select(chunks.c.chunk, chunks.c.counts).where(*[chunks.c[name] == row[name] for name in _KEY])
        )
        try:
            whole = from_chunks(dict(found.all()), CHUNK_STEPS, row["steps"]).model_dump(mode="json")
        except ValueError:
            connection.execute(sa.delete(windows).where(*where))
            continue
        connection.execute(sa.update(windows).where(*where).values(measurement=whole))
    op.drop_table("window_measurement_chunks")
    with op.batch_alter_table("window_measurements") as table:
        table.alter_column("measurement", existing_type=sa.JSON, nullable=False)
