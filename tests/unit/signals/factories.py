"""Factories for the signals tests: orders and classified feedback with only what matters overridden."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

from schemas.events import Channel, LineItem, OrderEvent, OrderStatus
from schemas.feedback import ClassifiedFeedback

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def make_order(order_id: str, sku: str = "SKU-1", category: str = "kitchen", region: str | None = "north",
               at: datetime = T0, customer_id: str = "c-1", **overrides) -> OrderEvent:
    fields = dict(occurred_at=at, channel=Channel.web, customer_id=customer_id, order_id=order_id,
                  status=OrderStatus.paid, amount=Decimal("10"), currency="USD", region=region,
                  items=(LineItem(sku=sku, category=category, quantity=1, unit_price=Decimal("10")),))
    fields.update(overrides)
    return OrderEvent(**fields)


def make_feedback(at: datetime, negative: bool, order_id: str | None = None, channel: Channel = Channel.web,
                  customer_id: str = "c-1", event_id: uuid.UUID | None = None) -> ClassifiedFeedback:
    return ClassifiedFeedback.model_construct(
        event_id=event_id or uuid.uuid4(), schema_version=1, occurred_at=at, event_type="classified_feedback",
        channel=channel, customer_id=customer_id, text="x", rating=None, order_id=order_id, classified_at=at,
        language="en", category="product_quality", sentiment="negative" if negative else "positive",
        sentiment_score=-0.6 if negative else 0.6, urgency="normal", confidence={}, evidence=(), needs_review=False)
