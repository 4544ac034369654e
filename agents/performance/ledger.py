"""Order events + Rates -> per-order payment, refund and cancellation facts in the reporting currency; the
events table -> order events of a time range.

The facts follow the incentive plans' rules (config/incentives.yaml), not the KPIs' cohort fold:
  * an event counts once, by event_id (a redelivery changes nothing);
  * the payment is the order's earliest `paid` event (ties: the smaller event id): a second `paid` of the same
    order is the same payment told twice, so it counts once, at the first one's time and amount;
  * a refund is the refund event's own amount (a partial refund reduces by that part), converted at the
    rate of the refund's time; a cancellation after payment takes back whatever of the payment is left;
  * an order cancelled at or before its payment never counts (nothing was earned, nothing to claw back);
  * an amount no rate covers is kept apart (`Ledger.unconverted`), never added raw.
`settle` then applies a clawback window: reversals within `clawback_days` of the payment (the boundary
itself included) reduce it, in time order and never below zero; later ones are listed but change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from pipeline.currency import Rates
from schemas.events import OrderEvent, OrderStatus

REVERSALS = frozenset({OrderStatus.refunded, OrderStatus.cancelled})


@dataclass(frozen=True, slots=True)
class Payment:
    order_id: str
    event_id: str
    rep: str | None
    at: datetime
    amount: Decimal          # reporting currency, exact
    currency: str            # as paid
    paid: Decimal            # in that currency


@dataclass(frozen=True, slots=True)
class Reversal:
    order_id: str
    event_id: str
    status: str              # "refunded" or "cancelled"
    at: datetime
    amount: Decimal | None   # a refund's converted amount; None for a cancellation (the rest of the payment)


@dataclass(frozen=True, slots=True)
class Unconverted:
    """An event whose amount no rate covers: shown, not counted."""

    order_id: str
    event_id: str
    status: str
    at: datetime
    rep: str | None
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Clawback:
    reversal: Reversal
    amount: Decimal          # what it took back (0 <= amount <= what was left of the payment)
    days: Decimal            # days from the payment to the reversal
    counted: bool            # within the clawback window


@dataclass(frozen=True, slots=True)
class Settled:
    payment: Payment
    clawbacks: tuple[Clawback, ...]

    @property
    def net(self) -> Decimal:
        return self.payment.amount - sum((c.amount for c in self.clawbacks if c.counted), Decimal(0))


@dataclass
class Ledger:
    payments: dict[str, Payment] = field(default_factory=dict)            # order id -> its payment
    reversals: dict[str, list[Reversal]] = field(default_factory=dict)    # order id -> refunds, cancellations
    unconverted: list[Unconverted] = field(default_factory=list)


def _key(e: OrderEvent) -> tuple[datetime, str]:
    return e.occurred_at, str(e.event_id)


def ledger(orders: Iterable[OrderEvent], rates: Rates) -> Ledger:
    """Order events (any order, repeats allowed) -> the ledger; other statuses than paid / refunded /
    cancelled carry no money for the plans and are skipped."""
    seen: set[str] = set()
    first_paid: dict[str, OrderEvent] = {}
    cancelled: dict[str, OrderEvent] = {}
    refunds: list[OrderEvent] = []
    for e in orders:
        ev = str(e.event_id)
        if ev in seen:
            continue
        seen.add(ev)
        if e.status is OrderStatus.paid:
            if e.order_id not in first_paid or _key(e) < _key(first_paid[e.order_id]):
                first_paid[e.order_id] = e
        elif e.status is OrderStatus.cancelled:
            if e.order_id not in cancelled or _key(e) < _key(cancelled[e.order_id]):
                cancelled[e.order_id] = e
        elif e.status is OrderStatus.refunded:
            refunds.append(e)
    out = Ledger()
    for oid, p in first_paid.items():
        c = cancelled.get(oid)
        if c is not None and c.occurred_at <= p.occurred_at:
            continue
        amount = rates.convert(p.amount, p.currency, p.occurred_at)
        if amount is None:
            out.unconverted.append(_apart(p))
            continue
        out.payments[oid] = Payment(oid, str(p.event_id), p.sales_rep_id, p.occurred_at, amount, p.currency, p.amount)
    for r in refunds:
        if r.order_id not in out.payments:
            continue
        amount = rates.convert(r.amount, r.currency, r.occurred_at)
        if amount is None:
            out.unconverted.append(_apart(r))
            continue
        out.reversals.setdefault(r.order_id, []).append(Reversal(r.order_id, str(r.event_id), "refunded",
                                                                 r.occurred_at, amount))
    for oid, c in cancelled.items():
        if oid in out.payments:
            out.reversals.setdefault(oid, []).append(Reversal(oid, str(c.event_id), "cancelled", c.occurred_at, None))
    return out


def _apart(e: OrderEvent) -> Unconverted:
    return Unconverted(e.order_id, str(e.event_id), e.status.value, e.occurred_at, e.sales_rep_id, e.amount, e.currency)


def settle(payment: Payment, reversals: Iterable[Reversal], clawback_days: int) -> Settled:
    """One payment and its reversals -> what each took back within `clawback_days` (inclusive)."""
    window = timedelta(days=clawback_days)
    left = payment.amount
    out = []
    for r in sorted(reversals, key=lambda r: (r.at, r.event_id)):
        delta = r.at - payment.at
        inside = delta <= window
        want = left if r.amount is None else min(r.amount, left)
        if inside:
            left -= want
        days = Decimal(delta.total_seconds()) / 86400
        out.append(Clawback(r, want if inside else (left if r.amount is None else r.amount), days, inside))
    return Settled(payment, tuple(out))


async def orders_from_db(engine, start: datetime, end: datetime) -> list[OrderEvent]:
    """Order events stored in the `events` table with start <= occurred_at < end (an async engine), decoded
    from their wire JSON; a payload that no longer decodes is skipped (it was valid when stored)."""
    from pydantic import ValidationError
    from sqlalchemy import select

    from pipeline.db.models import ReceivedEvent

    t = ReceivedEvent.__table__
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(t.c.payload).where(t.c.event_type == "order", t.c.occurred_at >= start, t.c.occurred_at < end)
            .order_by(t.c.occurred_at, t.c.event_id))).scalars().all()
    out = []
    for payload in rows:
        try:
            out.append(OrderEvent.model_validate_json(payload))
        except ValidationError:
            continue
    return out
