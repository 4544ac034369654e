"""profile money columns hold any total of bounded amounts (Numeric(38, 4))

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COLUMNS = ('total_spend', 'refunds', 'average_order_value')


def upgrade() -> None:
    # SQLite keeps NUMERIC as a type affinity without a precision: nothing to change there
    if op.get_bind().dialect.name == 'sqlite':
        return
    for column in COLUMNS:
        op.alter_column('customer_profiles', column, type_=sa.Numeric(precision=38, scale=4),
                        existing_type=sa.Numeric(precision=18, scale=4))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for column in COLUMNS:
        op.alter_column('customer_profiles', column, type_=sa.Numeric(precision=18, scale=4),
                        existing_type=sa.Numeric(precision=38, scale=4))
