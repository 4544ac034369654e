"""after-sales cases with SLAs: the cases table

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

import pipeline.db.types


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    dt = pipeline.db.types.UTCDateTime(timezone=True)
    op.create_table(
        'cases',
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('customer_id', sa.String(length=128), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=False),
        sa.Column('region', sa.String(length=64), nullable=True),
        sa.Column('team', sa.String(length=64), nullable=True),
        sa.Column('partition', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('segment', sa.String(length=32), nullable=True),
        sa.Column('opened_at', dt, nullable=False),
        sa.Column('first_response_due', dt, nullable=False),
        sa.Column('resolution_due', dt, nullable=False),
        sa.Column('responded_at', dt, nullable=True),
        sa.Column('resolved_at', dt, nullable=True),
        sa.Column('feedback_count', sa.Integer(), nullable=False),
        sa.Column('last_feedback_at', dt, nullable=False),
        sa.Column('feedback_ids', sa.JSON(), nullable=False),
        sa.Column('incident_key', sa.String(length=255), nullable=True),
        sa.Column('breach', sa.String(length=16), nullable=True),
        sa.Column('escalated_at', dt, nullable=True),
        sa.Column('updated_at', dt, nullable=False),
        sa.PrimaryKeyConstraint('case_id'),
    )
    op.create_index(op.f('ix_cases_customer_id'), 'cases', ['customer_id'], unique=False)
    op.create_index(op.f('ix_cases_owner'), 'cases', ['owner'], unique=False)
    op.create_index(op.f('ix_cases_updated_at'), 'cases', ['updated_at'], unique=False)
    op.create_index('ix_cases_state_partition', 'cases', ['state', 'partition'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_state_partition', table_name='cases')
    op.drop_index(op.f('ix_cases_updated_at'), table_name='cases')
    op.drop_index(op.f('ix_cases_owner'), table_name='cases')
    op.drop_index(op.f('ix_cases_customer_id'), table_name='cases')
    op.drop_table('cases')
