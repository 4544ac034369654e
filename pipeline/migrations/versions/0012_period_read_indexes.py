"""indexes for reads by period: classified feedback by occurred_at, incidents by acked_at, follow-ups by due_at
(agents/performance: scorecards and the coaching sweep read a period's rows of each)

Revision ID: 0012
Revises: 0011
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_classified_feedback_occurred_at', 'classified_feedback', ['occurred_at'])
    op.create_index('ix_incidents_acked_at', 'incidents', ['acked_at'])
    op.create_index('ix_followups_due_at', 'followups', ['due_at'])


def downgrade() -> None:
    op.drop_index('ix_followups_due_at', table_name='followups')
    op.drop_index('ix_incidents_acked_at', table_name='incidents')
    op.drop_index('ix_classified_feedback_occurred_at', table_name='classified_feedback')
