"""SQLAlchemy 2 typed declarative models of everything SalesPulse keeps in SQL."""

from __future__ import annotations

from datetime import datetime

from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pipeline.db.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON}


class ReceivedEvent(Base):
    """Every valid input event, once (primary key = event id, writes are upserts)."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(255))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)


class DeadLetterRow(Base):
    """An input that could not be decoded; one row per source offset."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("source_topic", "source_partition", "source_offset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    source_topic: Mapped[str] = mapped_column(String(255))
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


Index("ix_events_occurred_at", ReceivedEvent.occurred_at)


class ClassifiedFeedbackRow(Base):
    """One classified feedback message (event id of the source feedback)."""

    __tablename__ = "classified_feedback"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    classified_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32), index=True)
    sentiment: Mapped[str] = mapped_column(String(16))
    sentiment_score: Mapped[float]
    urgency: Mapped[str] = mapped_column(String(16), index=True)
    confidence: Mapped[dict]
    evidence: Mapped[dict]
    needs_review: Mapped[bool] = mapped_column(index=True)
    order_id: Mapped[str | None] = mapped_column(String(128))
    aspects: Mapped[list | None] = mapped_column(JSON)       # NULL: classified before aspects existed
    competitors: Mapped[list | None] = mapped_column(JSON)


# scorecards and coaching read a period's feedback, acknowledgements and due follow-ups by time
Index("ix_classified_feedback_occurred_at", ClassifiedFeedbackRow.occurred_at)


class CompetitorMentionRow(Base):
    """A competitor named in a classified message, once per thing compared (read by GET /kpis/competitors)."""

    __tablename__ = "competitor_mentions"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    competitor: Mapped[str] = mapped_column(String(64), primary_key=True)
    compared: Mapped[str] = mapped_column(String(16), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    sentiment: Mapped[str] = mapped_column(String(16))


class FeedbackCorrection(Base):
    """A reviewer's correction; the classifier applies every correction from then on."""

    __tablename__ = "feedback_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str | None] = mapped_column(String(16))
    corrected_by: Mapped[str] = mapped_column(String(128))
    corrected_at: Mapped[datetime]


class IncidentRow(Base):
    """An incident's escalation state: the owning worker's copy, and where timers survive restarts."""

    __tablename__ = "incidents"

    incident_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    level_name: Mapped[str] = mapped_column(String(64))
    loop: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    next_deadline: Mapped[datetime | None] = mapped_column(index=True)
    acked_by: Mapped[str | None] = mapped_column(String(128))
    acked_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None]
    parent_key: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime]
    state: Mapped[dict]


Index("ix_incidents_acked_at", IncidentRow.acked_at)


class IncidentAudit(Base):
    """Every state change and every delivery attempt: who was told what, when, how, who acknowledged."""

    __tablename__ = "incident_audit"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # deterministic: replays write once
    incident_key: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))  # triggered, merged, acknowledged, resolved, notify:<outcome>, ...
    level: Mapped[int | None] = mapped_column(Integer)
    loop: Mapped[int | None] = mapped_column(Integer)
    notification_id: Mapped[str | None] = mapped_column(String(36), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)


class CustomerProfileRow(Base):
    """A customer's profile: the owning worker's state (state) and what people query (the rest).

    orders_count, total_spend and last_order_at are the RFM key: indexed so a reader counts the
    customers of one histogram bucket (customer_rfm_stats) without reading the others."""

    __tablename__ = "customer_profiles"

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, index=True)
    orders_count: Mapped[int] = mapped_column(Integer, index=True)
    total_spend: Mapped[Decimal] = mapped_column(Numeric(38, 4), index=True)
    refunds: Mapped[Decimal] = mapped_column(Numeric(38, 4))
    average_order_value: Mapped[Decimal | None] = mapped_column(Numeric(38, 4))
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None] = mapped_column(index=True)
    segment: Mapped[str | None] = mapped_column(String(32), index=True)
    churn_risk: Mapped[float]
    updated_at: Mapped[datetime]
    snapshot: Mapped[dict]
    state: Mapped[dict]


class CustomerRfmStatsRow(Base):
    """Customers with orders per RFM histogram bucket of one partition (agents/customers/rfmstats.py),
    written by the partition's owner in the same transaction as the profiles that moved them."""

    __tablename__ = "customer_rfm_stats"

    dimension: Mapped[str] = mapped_column(String(1), primary_key=True)   # r, f or m
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)


class FollowUpRow(Base):
    """A follow-up task for an account owner (event id deterministic: raised once per reason and window)."""

    __tablename__ = "followups"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    owner_rep_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    task: Mapped[dict]
    # lifecycle (agents/followups): every change is a conditional UPDATE on `state`, so two workers or
    # requests cannot both win one transition
    state: Mapped[str] = mapped_column(String(16), index=True, default="open", server_default="open")
    assignee: Mapped[str | None] = mapped_column(String(128), index=True)   # person id or queue:<region>
    region: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    partition: Mapped[int | None] = mapped_column(Integer, index=True)     # of the customer's orders partition
    snoozed_until: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None] = mapped_column(index=True)      # the owner's batched notice claimed it


Index("ix_followups_due_at", FollowUpRow.due_at)


class FollowUpNoticeRow(Base):
    """One batched notice per person and interval: the worker whose insert wins sends it."""

    __tablename__ = "followup_notices"

    person_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    claimed_at: Mapped[datetime]
    tasks: Mapped[int] = mapped_column(Integer)


class KpiCellRow(Base):
    """One partition's counters of one KPI cell (agents.kpis.cells): summed over partitions on read."""

    __tablename__ = "kpi_cells"

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)       # "*" or a region
    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)     # window start, us since the epoch
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(160), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)     # of the kind's source topic
    counts: Mapped[str] = mapped_column(Text)                             # JSON array of integers
    updated_at: Mapped[int] = mapped_column(BigInteger)                   # the writer's flush time, us: reads fetch what changed


class KpiFactRow(Base):
    """One deduplicated KPI fact (an order, an opportunity, a spend) in its stored form."""

    __tablename__ = "kpi_facts"

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer)
    fact: Mapped[str | None] = mapped_column(Text)    # JSON; NULL once the fact no longer exists


Index("ix_kpi_cells_read", KpiCellRow.scope, KpiCellRow.granularity, KpiCellRow.updated_at)
Index("ix_kpi_facts_partition", KpiFactRow.kind, KpiFactRow.partition)


class CaseRow(Base):
    """An after-sales case: one per (customer, category) while not resolved (agents/cases)."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_state_partition", "state", "partition"),)

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    category: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(128), index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    partition: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    first_response_due: Mapped[datetime]
    resolution_due: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    feedback_count: Mapped[int] = mapped_column(Integer)
    last_feedback_at: Mapped[datetime]
    feedback_ids: Mapped[list] = mapped_column(JSON)
    incident_key: Mapped[str | None] = mapped_column(String(255))
    breach: Mapped[str | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(index=True)
class ReceivableRow(Base):
    """An invoiced order: what is owed, by when, and whether it was paid (agents.receivables); one row per order."""

    __tablename__ = "receivables"

    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    partition: Mapped[int] = mapped_column(Integer)                       # of `orders`: the owning worker's
    amount: Mapped[Decimal] = mapped_column(Numeric(38, 4))
    currency: Mapped[str] = mapped_column(String(3))
    amount_reporting: Mapped[Decimal | None] = mapped_column(Numeric(38, 4))  # None: no rate on the invoice date
    invoiced_at: Mapped[datetime]
    due_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    rep: Mapped[str | None] = mapped_column(String(128))
    team: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))                        # open, paid, cancelled
    overdue_raised_at: Mapped[datetime | None]                            # the follow-up and finance notice, once
    updated_at: Mapped[datetime]


class DigestDeliveryRow(Base):
    """A digest delivered to one subscriber for one period: never sent twice, whichever worker sends."""

    __tablename__ = "digest_deliveries"

    subscriber: Mapped[str] = mapped_column(String(128), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)      # hour or day
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))                      # email, webhook
    delivered_at: Mapped[datetime]


Index("ix_receivables_open", ReceivableRow.partition, ReceivableRow.state)


class CoachingSweepRow(Base):
    """One observation slot of every rep (agents.performance.coaching): the row claims it, so two workers or a
    restart observe a slot once."""

    __tablename__ = "coaching_sweeps"

    slot: Mapped[datetime] = mapped_column(primary_key=True)
    swept_at: Mapped[datetime]
    reps: Mapped[int] = mapped_column(Integer)
    opened: Mapped[int] = mapped_column(Integer)


class CoachingStreakRow(Base):
    """A rep's consecutive observations behind their peers on a metric (or, with an item open, not behind)."""

    __tablename__ = "coaching_streaks"

    rep: Mapped[str] = mapped_column(String(128), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    behind: Mapped[int] = mapped_column(Integer)
    ok: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class CoachingItemRow(Base):
    """A rep behind their team on a metric for a while: open -> assigned -> done, or open -> recovered."""

    __tablename__ = "coaching_items"
    __table_args__ = (Index("ix_coaching_items_rep_metric", "rep", "metric"),)

    item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rep: Mapped[str] = mapped_column(String(128))
    metric: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime]
    opened_value: Mapped[float] = mapped_column(Float)
    opened_median: Mapped[float] = mapped_column(Float)
    current_value: Mapped[float | None] = mapped_column(Float)           # as last observed
    current_median: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class TrainingAssignmentRow(Base):
    """The training a lead assigned for a coaching item: assigned -> done, the metric before and after."""

    __tablename__ = "training_assignments"

    item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rep: Mapped[str] = mapped_column(String(128), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))                        # assigned, done
    assigned_by: Mapped[str] = mapped_column(String(128))
    assigned_at: Mapped[datetime]
    before_value: Mapped[float | None] = mapped_column(Float)             # the item's current value at assignment
    done_by: Mapped[str | None] = mapped_column(String(128))
    done_at: Mapped[datetime | None]
    after_value: Mapped[float | None] = mapped_column(Float)              # the item's current value at done
