"""chunk digests: each stored chunk names the look's measurement it came from, by its input digest

A look whose counts are those a chunk was written from (the same steps and digest) can tell so from this
short column instead of sending the chunk's counts to be compared, and an upsert compares the digests
instead of the counts' text. Chunks written before keep it null: the next look of their window writes
them again. A writer that does not know the column (a pod of the version before, during a rolling
upgrade) would leave a digest beside counts it rewrote: a trigger clears the digest of any update that
does not change it, which this version's writes never are (a rewrite at as many steps has another
digest, a longer look's measurement too). Downgrading drops the trigger and the column.

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


_TRIGGER = "window_measurement_chunks_digest_kept"


def upgrade() -> None:
    with op.batch_alter_table("window_measurement_chunks") as table:
        table.add_column(sa.Column(
            "source_digest", sa.String(80), nullable=True,
            comment="input digest of the look's whole measurement; null: written before 0007",
        ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION {_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$ BEGIN NEW.source_digest := NULL; RETURN NEW; END $$")
        op.execute(f"CREATE TRIGGER {_TRIGGER} BEFORE UPDATE ON window_measurement_chunks FOR EACH ROW"
                   f" WHEN (NEW.source_digest IS NOT DISTINCT FROM OLD.source_digest) EXECUTE FUNCTION {_TRIGGER}()")
    else:  # SQLite: no BEFORE trigger may change NEW; the row is cleared after (triggers do not recurse by default)
        op.execute(f"CREATE TRIGGER {_TRIGGER} AFTER UPDATE ON window_measurement_chunks FOR EACH ROW"
                   " WHEN NEW.source_digest IS OLD.source_digest AND NEW.source_digest IS NOT NULL"
                   " BEGIN UPDATE window_measurement_chunks SET source_digest = NULL WHERE rowid = NEW.rowid; END")


def downgrade() -> None:
    op.execute(f"DROP TRIGGER {_TRIGGER}" + (" ON window_measurement_chunks"
                                             if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {_TRIGGER}()")
    with op.batch_alter_table("window_measurement_chunks") as table:
        table.drop_column("source_digest")
