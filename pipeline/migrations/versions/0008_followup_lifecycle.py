"""follow-up lifecycle: state, assignee, scope, snooze / dismiss / escalation times; batched notices

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

import pipeline.db.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UTC = pipeline.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='open'))
        batch_op.add_column(sa.Column('assignee', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('region', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('team', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('partition', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('snoozed_until', UTC, nullable=True))
        batch_op.add_column(sa.Column('dismiss_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('updated_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('done_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('notified_at', UTC, nullable=True))
        batch_op.create_index(batch_op.f('ix_followups_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_followups_assignee'), ['assignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_followups_partition'), ['partition'], unique=False)
        batch_op.create_index(batch_op.f('ix_followups_notified_at'), ['notified_at'], unique=False)
    # rows raised before the lifecycle: their owner is who the task named; they were never notified
    # and their due times are history, so they count as notified and escalated (no storm on upgrade)
    op.execute("UPDATE followups SET assignee = owner_rep_id, updated_at = created_at, notified_at = created_at, "
               "escalated_at = created_at")
    op.create_table(
        'followup_notices',
        sa.Column('person_id', sa.String(length=128), nullable=False),
        sa.Column('period_start', UTC, nullable=False),
        sa.Column('claimed_at', UTC, nullable=False),
        sa.Column('tasks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('person_id', 'period_start'),
    )


def downgrade() -> None:
    op.drop_table('followup_notices')
    with op.batch_alter_table('followups', schema=None) as batch_op:
        for ix in ('notified_at', 'partition', 'assignee', 'state'):
            batch_op.drop_index(batch_op.f(f'ix_followups_{ix}'))
        for col in ('notified_at', 'done_at', 'updated_at', 'escalated_at', 'dismiss_reason', 'snoozed_until',
                    'partition', 'team', 'region', 'assignee', 'state'):
            batch_op.drop_column(col)
