"""Seeded generator of realistic mixed channel traffic (pure: takes an rng and a clock)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.events import (
    CampaignSpendEvent,
    Channel,
    EventBase,
    FeedbackEvent,
    FunnelEvent,
    FunnelStage,
    IncidentEvent,
    LineItem,
    OrderEvent,
    OrderStatus,
    Severity,
)

REGIONS = ("north", "south", "east", "west")
REPS = tuple(f"rep-{i}" for i in range(1, 9))
CAMPAIGNS = ("spring-sale", "double-11", "newsletter", "social-ads")
CATALOG = (
    ("SKU-PHONE-1", "electronics", "499.00"), ("SKU-CHARGER-2", "electronics", "29.90"),
    ("SKU-KETTLE-3", "home", "45.50"), ("SKU-SOFA-4", "furniture", "899.00"),
    ("SKU-SHOE-5", "apparel", "79.99"), ("SKU-TEA-6", "grocery", "12.80"),
    ("SKU-LAMP-7", "home", "35.00"), ("SKU-JACKET-8", "apparel", "149.00"),
)
FEEDBACK = {
    "en": [
        ("Great service, the staff in the store were really helpful!", 5),
        ("My parcel is two weeks late and nobody answers my emails.", 1),
        ("The charger started smoking and there was a burning smell, this is dangerous!", 1),
        ("Not bad at all, the kettle works fine.", 4),
        ("You charged me more than the listed price, I want the difference refunded now.", 1),
        ("It would be nice to have the jacket in more colours.", 4),
        ("Third time my order arrives broken. I will stop buying from you.", 1),
        ("Waited 40 minutes on the hotline, terrible.", 2),
        ("The sofa fabric tore after a week, poor quality.", 2),
        ("I will contact my lawyer if the refund is not processed this week.", 1),
        ("Delivery was fast and the packaging was good, thanks!", 5),
        ("Coupon code was not applied at checkout.", 2),
    ],
    "zh": [
        ("服务很好，店员非常耐心。", 5),
        ("快递太慢了，等了两个星期还没到。", 1),
        ("充电器冒烟了，还有烧焦的味道，太危险了！", 1),
        ("质量没有问题，很满意。", 5),
        ("价格比别家贵很多，不是很满意。", 2),
        ("希望能增加更多颜色选择。", 4),
        ("这是第三次收到坏的商品了，我要退款！", 1),
        ("客服电话一直打不通，态度也很差。", 1),
        ("再不处理我就去12315投诉。", 1),
        ("沙發品質很差，用了一週就壞了。", 2),
        ("退貨流程太複雜了，到現在還沒退款。", 2),
        ("物流很快，包装完好，谢谢！", 5),
    ],
}
INCIDENTS = (
    (Severity.critical, "product_safety", "Charger overheating reported"),
    (Severity.high, "delivery", "Regional courier outage"),
    (Severity.medium, "payment", "Card payments failing intermittently"),
    (Severity.low, "website", "Product images not loading"),
)
FUNNEL = (FunnelStage.lead, FunnelStage.qualified, FunnelStage.proposal, FunnelStage.negotiation)


@dataclass
class Simulator:
    """Yields events at simulated time `now()`; orders progress through their lifecycle."""

    seed: int = 7
    customers: int = 2000
    rng: random.Random = field(init=False)
    _open_orders: list = field(default_factory=list)
    _open_opps: list = field(default_factory=list)
    _n: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _customer(self) -> str:
        # a skewed population: a few customers buy a lot (Pareto-like)
        return f"cust-{int(self.customers * self.rng.random() ** 2):06d}"

    def next(self, now: datetime) -> EventBase:
        self._n += 1
        roll = self.rng.random()
        if roll < 0.60:
            return self._order(now)
        if roll < 0.90:
            return self._feedback(now)
        if roll < 0.95:
            return self._incident(now)
        if roll < 0.995:
            return self._funnel(now)
        return self._spend(now)

    def stream(self, start: datetime, step: timedelta) -> Iterator[EventBase]:
        now = start
        while True:
            yield self.next(now)
            now += step

    def _order(self, now: datetime) -> OrderEvent:
        r = self.rng
        if self._open_orders and r.random() < 0.55:
            i = r.randrange(len(self._open_orders))
            base, status = self._open_orders[i]
            nxt = {OrderStatus.created: OrderStatus.paid, OrderStatus.paid: OrderStatus.shipped,
                   OrderStatus.shipped: OrderStatus.delivered}.get(status)
            roll = r.random()
            if status == OrderStatus.created and roll < 0.08:
                nxt = OrderStatus.cancelled
            elif status == OrderStatus.delivered or nxt is None:
                nxt = None
            elif roll < 0.04:
                nxt = OrderStatus.refunded
            if nxt is None or nxt in (OrderStatus.delivered, OrderStatus.cancelled, OrderStatus.refunded):
                self._open_orders.pop(i)
            if nxt is not None:
                if nxt != OrderStatus.delivered and nxt not in (OrderStatus.cancelled, OrderStatus.refunded):
                    self._open_orders.append((base, nxt))
                amount = base.amount if nxt != OrderStatus.refunded else (base.amount / 2).quantize(Decimal("0.01"))
                return base.model_copy(update={"event_id": self._uuid(), "occurred_at": now, "status": nxt, "amount": amount})
        items = []
        for _ in range(r.choice((1, 1, 1, 2, 3))):
            sku, cat, price = r.choice(CATALOG)
            items.append(LineItem(sku=sku, category=cat, quantity=r.choice((1, 1, 2)), unit_price=Decimal(price)))
        amount = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
        order = OrderEvent(
            event_id=self._uuid(), occurred_at=now, channel=r.choice(list(Channel)),
            customer_id=self._customer(), order_id=f"ord-{self._uuid().hex[:12]}",
            status=OrderStatus.created, amount=amount, currency="EUR", items=tuple(items),
            campaign_id=r.choice(CAMPAIGNS) if r.random() < 0.3 else None,
            sales_rep_id=r.choice(REPS), region=r.choice(REGIONS),
        )
        self._open_orders.append((order, OrderStatus.created))
        if len(self._open_orders) > 5000:
            self._open_orders.pop(0)
        return order

    def _feedback(self, now: datetime) -> FeedbackEvent:
        r = self.rng
        lang = "zh" if r.random() < 0.45 else "en"
        text, rating = r.choice(FEEDBACK[lang])
        return FeedbackEvent(
            event_id=self._uuid(), occurred_at=now, channel=r.choice(list(Channel)),
            customer_id=self._customer(), text=text,
            rating=rating if r.random() < 0.6 else None,
            language=lang if r.random() < 0.3 else None,
        )

    def _incident(self, now: datetime) -> IncidentEvent:
        r = self.rng
        severity, category, title = r.choice(INCIDENTS)
        region = r.choice(REGIONS)
        return IncidentEvent(
            event_id=self._uuid(), occurred_at=now, channel=r.choice(list(Channel)),
            customer_id=self._customer(), incident_key=f"{category}:{region}:{r.randrange(50)}",
            severity=severity, category=category, title=title, region=region,
            sku=r.choice(CATALOG)[0] if category == "product_safety" else None,
        )

    def _funnel(self, now: datetime) -> FunnelEvent:
        r = self.rng
        if self._open_opps and r.random() < 0.6:
            i = r.randrange(len(self._open_opps))
            opp, stage_i = self._open_opps[i]
            if stage_i + 1 < len(FUNNEL) and r.random() < 0.7:
                self._open_opps[i] = (opp, stage_i + 1)
                stage = FUNNEL[stage_i + 1]
            else:
                self._open_opps.pop(i)
                stage = FunnelStage.won if r.random() < 0.4 else FunnelStage.lost
            return opp.model_copy(update={"event_id": self._uuid(), "occurred_at": now, "stage": stage})
        opp = FunnelEvent(
            event_id=self._uuid(), occurred_at=now, channel=r.choice(list(Channel)),
            customer_id=self._customer(), opportunity_id=f"opp-{self._uuid().hex[:10]}",
            stage=FunnelStage.lead, sales_rep_id=r.choice(REPS), region=r.choice(REGIONS),
        )
        self._open_opps.append((opp, 0))
        if len(self._open_opps) > 2000:
            self._open_opps.pop(0)
        return opp

    def _spend(self, now: datetime) -> CampaignSpendEvent:
        r = self.rng
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return CampaignSpendEvent(
            event_id=self._uuid(), occurred_at=now, campaign_id=r.choice(CAMPAIGNS),
            amount=Decimal(r.randrange(50, 500)), currency="EUR",
            period_start=day, period_end=day + timedelta(days=1),
        )
