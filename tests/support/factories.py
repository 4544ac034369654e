"""Factory functions for events: make_order(**overrides) etc."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from pipeline.currency import Rates
from schemas.events import (
    CampaignSpendEvent, Channel, FeedbackEvent, FunnelEvent, FunnelStage, IncidentEvent,
    LineItem, OrderEvent, OrderStatus, Severity,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
# Reporting in the factories' own currency: tests of order semantics read in the events' amounts
IN_EUR = Rates(reporting_currency="EUR")


def at(minutes: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make_order(**kw) -> OrderEvent:
    base = dict(
        event_id=uuid.uuid4(), occurred_at=T0, channel=Channel.web, customer_id="cust-1",
        order_id="ord-1", status=OrderStatus.paid, amount=Decimal("100.00"), currency="EUR",
        items=(LineItem(sku="SKU-1", category="home", quantity=2, unit_price=Decimal("50.00")),),
        region="north", sales_rep_id="rep-1",
    )
    base.update(kw)
    return OrderEvent(**base)


def make_feedback(**kw) -> FeedbackEvent:
    base = dict(event_id=uuid.uuid4(), occurred_at=T0, channel=Channel.email, customer_id="cust-1",
                text="The kettle works well, thanks!")
    base.update(kw)
    return FeedbackEvent(**base)


def make_incident(**kw) -> IncidentEvent:
    base = dict(event_id=uuid.uuid4(), occurred_at=T0, channel=Channel.phone, customer_id="cust-1",
                incident_key="inc-1", severity=Severity.high, category="delivery",
                title="Courier lost the parcel", region="north")
    base.update(kw)
    return IncidentEvent(**base)


def make_funnel(**kw) -> FunnelEvent:
    base = dict(event_id=uuid.uuid4(), occurred_at=T0, channel=Channel.web, customer_id="cust-1",
                opportunity_id="opp-1", stage=FunnelStage.lead, sales_rep_id="rep-1", region="north")
    base.update(kw)
    return FunnelEvent(**base)


def make_spend(**kw) -> CampaignSpendEvent:
    base = dict(event_id=uuid.uuid4(), occurred_at=T0, campaign_id="spring-sale",
                amount=Decimal("100"), currency="EUR", period_start=T0, period_end=T0 + timedelta(days=1))
    base.update(kw)
    return CampaignSpendEvent(**base)


def add_random_orders(book, rng, ids: list[str], n: int, *, amount, statuses, items=None) -> None:
    """`n` orders of customers among `ids` into a CustomerBook: `amount(rng)` -> Decimal, a status
    from `statuses`, one of 8 order ids per customer, `items(rng, amount)` -> line items (none by
    default), a payment day within a year of T0, region and rep sometimes missing."""
    for _ in range(n):
        cid = rng.choice(ids)
        value = amount(rng)
        status = rng.choice(statuses)
        order_id = f"{cid}-o{rng.randrange(8)}"
        lines = items(rng, value) if items else ()
        book.order(make_order(customer_id=cid, order_id=order_id, status=status, amount=value, items=lines,
                              occurred_at=T0 + timedelta(days=rng.randrange(365)),
                              region=rng.choice(["north", "south", None]),
                              sales_rep_id=rng.choice(["rep-1", "rep-2", None])))


def add_random_feedback(book, rng, ids: list[str], n: int) -> None:
    """`n` classified feedback facts (score in [-1, 1], negative below -0.3) into a CustomerBook."""
    for _ in range(n):
        score = rng.uniform(-1, 1)
        book.feedback(rng.choice(ids), uuid.UUID(int=rng.getrandbits(128)), T0 + timedelta(days=rng.randrange(365)),
                      score, score < -0.3, rng.choice(["delivery", "product", "billing"]))
