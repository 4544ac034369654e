"""customer RFM histograms per partition; the profile columns of the RFM key indexed

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KEY_COLUMNS = ('orders_count', 'total_spend', 'last_order_at')


def upgrade() -> None:
    # empty at first: each worker writes its partitions' histograms when it is assigned them
    op.create_table('customer_rfm_stats',
    sa.Column('dimension', sa.String(length=1), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dimension', 'bucket', 'partition')
    )
    with op.batch_alter_table('customer_profiles', schema=None) as batch_op:
        for column in KEY_COLUMNS:
            batch_op.create_index(batch_op.f(f'ix_customer_profiles_{column}'), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_profiles', schema=None) as batch_op:
        for column in KEY_COLUMNS:
            batch_op.drop_index(batch_op.f(f'ix_customer_profiles_{column}'))
    op.drop_table('customer_rfm_stats')
