"""classified feedback: aspects and competitor mentions; the competitor_mentions table

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

import pipeline.db.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # rows classified before this stay NULL: their aspects were never computed
    with op.batch_alter_table('classified_feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('aspects', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('competitors', sa.JSON(), nullable=True))
    op.create_table(
        'competitor_mentions',
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('competitor', sa.String(length=64), nullable=False),
        sa.Column('compared', sa.String(length=16), nullable=False),
        sa.Column('customer_id', sa.String(length=128), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('occurred_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sentiment', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('event_id', 'competitor', 'compared'),
    )
    op.create_index(op.f('ix_competitor_mentions_occurred_at'), 'competitor_mentions', ['occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_competitor_mentions_occurred_at'), table_name='competitor_mentions')
    op.drop_table('competitor_mentions')
    with op.batch_alter_table('classified_feedback', schema=None) as batch_op:
        batch_op.drop_column('competitors')
        batch_op.drop_column('aspects')
