"""receivables (invoiced orders, due dates, payment) and digest_deliveries (one digest per subscriber and period)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

import pipeline.db.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'receivables',
        sa.Column('order_id', sa.String(length=128), nullable=False),
        sa.Column('customer_id', sa.String(length=128), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=38, scale=4), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('amount_reporting', sa.Numeric(precision=38, scale=4), nullable=True),
        sa.Column('invoiced_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('due_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('paid_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('rep', sa.String(length=128), nullable=True),
        sa.Column('team', sa.String(length=64), nullable=True),
        sa.Column('region', sa.String(length=64), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('overdue_raised_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('order_id'),
    )
    op.create_index(op.f('ix_receivables_customer_id'), 'receivables', ['customer_id'], unique=False)
    op.create_index('ix_receivables_open', 'receivables', ['partition', 'state'], unique=False)
    op.create_table(
        'digest_deliveries',
        sa.Column('subscriber', sa.String(length=128), nullable=False),
        sa.Column('period', sa.String(length=8), nullable=False),
        sa.Column('period_start', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('delivered_at', pipeline.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('subscriber', 'period', 'period_start'),
    )


def downgrade() -> None:
    op.drop_table('digest_deliveries')
    op.drop_index('ix_receivables_open', table_name='receivables')
    op.drop_index(op.f('ix_receivables_customer_id'), table_name='receivables')
    op.drop_table('receivables')
