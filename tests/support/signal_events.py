"""A complaint spike as input events: a day of quiet complaints about one kettle, then a burst."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.events import Channel, EventBase, FeedbackEvent, LineItem, OrderEvent, OrderStatus

KETTLE, TOASTER = "SKU-KETTLE-3", "SKU-TOASTER-1"
BAD = "The kettle broke after two days, terrible quality."
GOOD = "Great toaster, works perfectly, very happy."


def spike(start: datetime, customer: str = "cust-signals", hours: int = 26, burst: int = 12) -> list[EventBase]:
    """Orders at `start`, then per hour one complaint about the kettle and two happy toaster messages for
    `hours` hours, then `burst` kettle complaints within half an hour. One customer: one partition, in order."""
    def order(oid: str, sku: str) -> OrderEvent:
        return OrderEvent(occurred_at=start, channel=Channel.web, customer_id=customer, order_id=oid,
                          status=OrderStatus.paid, amount=Decimal("40"), currency="USD", region="north",
                          items=(LineItem(sku=sku, category="kitchen", quantity=1, unit_price=Decimal("40")),))

    def feedback(at: datetime, oid: str, text: str) -> FeedbackEvent:
        return FeedbackEvent(event_id=uuid.uuid4(), occurred_at=at, channel=Channel.email, customer_id=customer,
                             text=text, order_id=oid)

    events: list[EventBase] = [order(f"{customer}-k{i}", KETTLE) for i in range(3)] + \
                              [order(f"{customer}-t{i}", TOASTER) for i in range(3)]
    for h in range(hours):
        t = start + timedelta(hours=h, minutes=10)
        events += [feedback(t, f"{customer}-k{h % 3}", BAD),
                   feedback(t + timedelta(minutes=20), f"{customer}-t{h % 3}", GOOD),
                   feedback(t + timedelta(minutes=40), f"{customer}-t{(h + 1) % 3}", GOOD)]
    burst_at = start + timedelta(hours=hours, minutes=5)
    events += [feedback(burst_at + timedelta(minutes=2 * i), f"{customer}-k{i % 3}", BAD) for i in range(burst)]
    return events
