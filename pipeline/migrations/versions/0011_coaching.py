"""coaching: observation slots, streaks, coaching items and training assignments (agents/performance/coaching)

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

import pipeline.db.types


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'coaching_sweeps',
        sa.Column('slot', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('swept_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reps', sa.Integer(), nullable=False),
        sa.Column('opened', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('slot'),
    )
    op.create_table(
        'coaching_streaks',
        sa.Column('rep', sa.String(length=128), nullable=False),
        sa.Column('metric', sa.String(length=32), nullable=False),
        sa.Column('behind', sa.Integer(), nullable=False),
        sa.Column('ok', sa.Integer(), nullable=False),
        sa.Column('updated_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('rep', 'metric'),
    )
    op.create_table(
        'coaching_items',
        sa.Column('item_id', sa.String(length=36), nullable=False),
        sa.Column('rep', sa.String(length=128), nullable=False),
        sa.Column('metric', sa.String(length=32), nullable=False),
        sa.Column('team', sa.String(length=64), nullable=False),
        sa.Column('region', sa.String(length=64), nullable=True),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('opened_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('opened_value', sa.Float(), nullable=False),
        sa.Column('opened_median', sa.Float(), nullable=False),
        sa.Column('current_value', sa.Float(), nullable=True),
        sa.Column('current_median', sa.Float(), nullable=True),
        sa.Column('observed_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('item_id'),
    )
    op.create_index('ix_coaching_items_rep_metric', 'coaching_items', ['rep', 'metric'], unique=False)
    op.create_index(op.f('ix_coaching_items_state'), 'coaching_items', ['state'], unique=False)
    op.create_table(
        'training_assignments',
        sa.Column('item_id', sa.String(length=36), nullable=False),
        sa.Column('rep', sa.String(length=128), nullable=False),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('assigned_by', sa.String(length=128), nullable=False),
        sa.Column('assigned_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('before_value', sa.Float(), nullable=True),
        sa.Column('done_by', sa.String(length=128), nullable=True),
        sa.Column('done_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('after_value', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('item_id'),
    )
    op.create_index(op.f('ix_training_assignments_rep'), 'training_assignments', ['rep'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_training_assignments_rep'), table_name='training_assignments')
    op.drop_table('training_assignments')
    op.drop_index(op.f('ix_coaching_items_state'), table_name='coaching_items')
    op.drop_index('ix_coaching_items_rep_metric', table_name='coaching_items')
    op.drop_table('coaching_items')
    op.drop_table('coaching_streaks')
    op.drop_table('coaching_sweeps')
