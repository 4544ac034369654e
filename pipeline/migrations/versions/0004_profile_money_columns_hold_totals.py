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


def _retype(old: sa.Numeric, new: sa.Numeric) -> None:
    # batch mode: SQLite rebuilds the table (it cannot alter a column's declared type), PostgreSQL alters
    with op.batch_alter_table('customer_profiles') as batch_op:
        for column in COLUMNS:
            batch_op.alter_column(column, type_=new, existing_type=old, existing_nullable=column == 'average_order_value')


def upgrade() -> None:
    _retype(sa.Numeric(precision=18, scale=4), sa.Numeric(precision=38, scale=4))


def downgrade() -> None:
    _retype(sa.Numeric(precision=38, scale=4), sa.Numeric(precision=18, scale=4))
