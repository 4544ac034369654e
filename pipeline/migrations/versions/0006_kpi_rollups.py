"""KPI rollups: additive cells per partition, and the facts they are folded from

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'kpi_cells',
        sa.Column('kind', sa.String(length=1), nullable=False),
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('granularity', sa.String(length=8), nullable=False),
        sa.Column('bucket', sa.BigInteger(), nullable=False),
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=160), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=False),
        sa.Column('counts', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'scope', 'granularity', 'bucket', 'dimension', 'value', 'partition'),
    )
    op.create_index('ix_kpi_cells_read', 'kpi_cells', ['scope', 'granularity', 'updated_at'])
    op.create_table(
        'kpi_facts',
        sa.Column('kind', sa.String(length=1), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=False),
        sa.Column('fact', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('kind', 'key'),
    )
    op.create_index('ix_kpi_facts_partition', 'kpi_facts', ['kind', 'partition'])


def downgrade() -> None:
    op.drop_index('ix_kpi_facts_partition', table_name='kpi_facts')
    op.drop_table('kpi_facts')
    op.drop_index('ix_kpi_cells_read', table_name='kpi_cells')
    op.drop_table('kpi_cells')
