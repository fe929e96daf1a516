"""promotion ledger: candidates, stages, attempts, evidence, evaluations, quarantines, audit, tokens

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'candidates',
        sa.Column('id', sa.String(length=64), primary_key=True),
        sa.Column('alias', sa.String(length=120), nullable=True),
        sa.Column('artifacts', sa.JSON(), nullable=False),
        sa.Column('fixes', sa.String(length=64), nullable=True),
        sa.Column('source', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('state', sa.String(length=40), nullable=False),
        sa.Column('row_version', sa.Integer(), nullable=False),
    )
    op.create_table(
        'stage_states',
        sa.Column('stage', sa.String(length=40), primary_key=True),
        sa.Column('current_candidate_id', sa.String(length=64), nullable=True),
        sa.Column('current_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_good_candidate_id', sa.String(length=64), nullable=True),
        sa.Column('active_attempt_id', sa.String(length=32), nullable=True),
        sa.Column('row_version', sa.Integer(), nullable=False),
    )
    op.create_table(
        'promotion_attempts',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('idempotency_key', sa.String(length=120), nullable=False),
        sa.Column('candidate_id', sa.String(length=64), nullable=False),
        sa.Column('from_stage', sa.String(length=40), nullable=True),
        sa.Column('to_stage', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.String(length=120), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('justification', sa.String(length=2000), nullable=True),
        sa.Column('second_approver', sa.String(length=120), nullable=True),
        sa.Column('reason', sa.String(length=2000), nullable=True),
        sa.UniqueConstraint('to_stage', 'idempotency_key', name='uq_attempt_idempotency'),
    )
    op.create_index('ix_attempts_candidate', 'promotion_attempts', ['candidate_id'])
    op.create_index('ix_attempts_stage_state', 'promotion_attempts', ['to_stage', 'state', 'id'])
    op.create_table(
        'evidence',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('attempt_id', sa.String(length=32), nullable=False),
        sa.Column('candidate_id', sa.String(length=64), nullable=False),
        sa.Column('stage', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('collected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('collected_by', sa.String(length=120), nullable=False),
        sa.UniqueConstraint('attempt_id', 'kind', 'sha256', name='uq_evidence_once'),
    )
    op.create_table(
        'gate_evaluations',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('attempt_id', sa.String(length=32), nullable=False),
        sa.Column('candidate_id', sa.String(length=64), nullable=False),
        sa.Column('stage', sa.String(length=40), nullable=False),
        sa.Column('policy_hash', sa.String(length=64), nullable=False),
        sa.Column('inputs', sa.JSON(), nullable=False),
        sa.Column('checks', sa.JSON(), nullable=False),
        sa.Column('verdict', sa.String(length=16), nullable=False),
        sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'quarantines',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('candidate_id', sa.String(length=64), nullable=False),
        sa.Column('stage', sa.String(length=40), nullable=True),
        sa.Column('attempt_id', sa.String(length=32), nullable=True),
        sa.Column('reason_code', sa.String(length=40), nullable=False),
        sa.Column('detail', sa.String(length=4000), nullable=False),
        sa.Column('impact', sa.JSON(), nullable=False),
        sa.Column('evidence_ids', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'audit_events',
        sa.Column('seq', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('event_id', sa.String(length=64), nullable=False, unique=True),
        sa.Column('ts', sa.String(length=40), nullable=False),
        sa.Column('actor', sa.String(length=120), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('candidate_id', sa.String(length=64), nullable=True),
        sa.Column('stage', sa.String(length=40), nullable=True),
        sa.Column('attempt_id', sa.String(length=32), nullable=True),
        sa.Column('from_state', sa.String(length=40), nullable=True),
        sa.Column('to_state', sa.String(length=40), nullable=True),
        sa.Column('reason', sa.String(length=4000), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
    )
    op.create_table(
        'api_tokens',
        sa.Column('name', sa.String(length=120), primary_key=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False, unique=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('api_tokens')
    op.drop_table('audit_events')
    op.drop_table('quarantines')
    op.drop_table('gate_evaluations')
    op.drop_table('evidence')
    op.drop_table('promotion_attempts')
    op.drop_table('stage_states')
    op.drop_table('candidates')
