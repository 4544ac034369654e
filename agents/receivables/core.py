"""Order events + now -> receivables (open, paid, cancelled), the overdue ones to raise, and their ageing.

An order is a receivable from its `invoiced` event: due at the event's `payment_due_at`, else after the
configured payment terms. It is paid by a `paid` event; shipping or delivering an invoiced order is not
payment (goods on credit), so only `paid` (or a refund, which implies one) settles it; `cancelled` closes
it. The fold is order-independent for the events of one order that arrive after its invoice; a `paid`
event of an order not invoiced yet is not remembered (one order's events travel on one partition, in
the order the channel sent them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Iterable

from schemas.customers import FollowUpReason, FollowUpTask, stable_id
from schemas.events import OrderEvent, OrderStatus

SETTLED_BY = frozenset({OrderStatus.paid, OrderStatus.refunded})
BUCKETS = ("current", "0-30", "31-60", "61-90", "90+")


@dataclass(frozen=True, slots=True)
class Receivable:
    order_id: str
    customer_id: str
    amount: Decimal
    currency: str
    amount_reporting: Decimal | None
    invoiced_at: datetime
    due_at: datetime
    rep: str | None = None
    team: str | None = None
    region: str | None = None
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    overdue_raised_at: datetime | None = None

    @property
    def state(self) -> str:
        if self.paid_at is not None:
            return "paid"
        return "cancelled" if self.cancelled_at is not None else "open"


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a receivable belongs to: the order's rep, else the customer's owner; their team and region."""

    rep: str | None
    team: str | None
    region: str | None


Convert = Callable[[Decimal, str, datetime], "Decimal | None"]


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def apply(current: Receivable | None, e: OrderEvent, owner: Owner, convert: Convert,
          terms_days: int) -> Receivable | None:
    """One order event -> the order's receivable (None when it has none), the same object when unchanged."""
    if e.status is OrderStatus.invoiced:
        due = e.payment_due_at or e.occurred_at + timedelta(days=terms_days)
        if current is not None and current.invoiced_at <= e.occurred_at:
            return current  # the earliest invoice defines the receivable (a redelivery changes nothing)
        base = current or Receivable(order_id=e.order_id, customer_id=e.customer_id, amount=e.amount,
                                     currency=e.currency, amount_reporting=None, invoiced_at=e.occurred_at,
                                     due_at=due, rep=owner.rep, team=owner.team, region=owner.region)
        return replace(base, amount=e.amount, currency=e.currency, invoiced_at=e.occurred_at, due_at=due,
                       amount_reporting=convert(e.amount, e.currency, e.occurred_at))
    if current is None:
        return None
    if e.status in SETTLED_BY:
        paid = _earliest(current.paid_at, e.occurred_at)
        return current if paid == current.paid_at else replace(current, paid_at=paid)
    if e.status is OrderStatus.cancelled:
        cancelled = _earliest(current.cancelled_at, e.occurred_at)
        return current if cancelled == current.cancelled_at else replace(current, cancelled_at=cancelled)
    return current


def due_for_notice(receivables: Iterable[Receivable], now: datetime) -> list[Receivable]:
    """Open receivables past due whose follow-up and finance notice were not raised yet, oldest due first."""
    return sorted((r for r in receivables if r.state == "open" and r.due_at < now and r.overdue_raised_at is None),
                  key=lambda r: (r.due_at, r.order_id))


def followup_task(r: Receivable, now: datetime, due_hours: float, churn_risk: float = 0.0,
                  total_spend: Decimal = Decimal(0)) -> FollowUpTask:
    """The rep's task for an overdue receivable; its id depends on the order only, so it is raised once."""
    days = (now - r.due_at).days
    return FollowUpTask(
        event_id=stable_id("followup", r.customer_id, FollowUpReason.payment_overdue.value, r.order_id),
        occurred_at=now, customer_id=r.customer_id, reason=FollowUpReason.payment_overdue, owner_rep_id=r.rep,
        churn_risk=round(min(max(churn_risk, 0.0), 1.0), 4), total_spend=total_spend, window_start=r.due_at,
        due_at=now + timedelta(hours=due_hours),
        detail=(f"payment_overdue: order {r.order_id} of {r.amount} {r.currency} was due "
                f"{r.due_at:%Y-%m-%d} ({days} days ago)")[:500])


def notice_text(r: Receivable, now: datetime) -> tuple[str, str]:
    """(subject, body) of the finance notice of an overdue receivable."""
    days = (now - r.due_at).days
    subject = f"[OVERDUE] order {r.order_id}: {r.amount} {r.currency} due {r.due_at:%Y-%m-%d}"
    lines = [subject, "", f"Customer: {r.customer_id}", f"Invoiced: {r.invoiced_at.isoformat()}",
             f"Due: {r.due_at.isoformat()} ({days} days overdue)", f"Rep: {r.rep or '-'}",
             f"Team: {r.team or '-'}", f"Region: {r.region or '-'}",
             "The rep has a payment_overdue follow-up for this order."]
    return subject, "\n".join(lines)


def bucket(r: Receivable, now: datetime) -> str:
    """Ageing bucket of an open receivable: not yet due, or whole days past due (0-30, 31-60, 61-90, 90+)."""
    if now <= r.due_at:
        return "current"
    days = (now - r.due_at).days
    return "0-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else "90+"


def _empty() -> dict:
    return {b: {"count": 0, "amount": Decimal(0)} for b in BUCKETS}


def ageing(receivables: Iterable[Receivable], now: datetime) -> dict:
    """Open receivables -> counts and amounts (reporting currency) per bucket: in total, by team and by region.

    A receivable no rate converts is counted, its amount left out and listed under `unconverted`."""
    total, teams, regions, unconverted = _empty(), {}, {}, 0
    for r in receivables:
        if r.state != "open":
            continue
        b = bucket(r, now)
        if r.amount_reporting is None:
            unconverted += 1
        for cell in (total, teams.setdefault(r.team or "-", _empty()), regions.setdefault(r.region or "-", _empty())):
            cell[b]["count"] += 1
            if r.amount_reporting is not None:
                cell[b]["amount"] += r.amount_reporting
    return {"total": total, "by_team": dict(sorted(teams.items())), "by_region": dict(sorted(regions.items())),
            "unconverted": unconverted}


class ReceivablesBook:
    """The receivables of some orders and what the sweep raised: the core both the worker (its partitions,
    SQL, wall clock) and `salespulse receivables replay` (a file, a virtual clock) drive."""

    def __init__(self, terms_days: int, convert: Convert) -> None:
        self.terms_days, self.convert = terms_days, convert
        self.by_order: dict[str, Receivable] = {}

    def wants(self, e: OrderEvent) -> bool:
        """Whether the event can change a receivable (an owner is looked up only for a new invoice)."""
        return e.order_id in self.by_order or e.status is OrderStatus.invoiced

    def order(self, e: OrderEvent, owner: Owner) -> Receivable | None:
        """The changed receivable, or None when the event changes nothing."""
        current = self.by_order.get(e.order_id)
        new = apply(current, e, owner, self.convert, self.terms_days)
        if new is None or new is current:
            return None
        self.by_order[e.order_id] = new
        return new

    def sweep(self, now: datetime) -> list[Receivable]:
        """The receivables that became overdue and were not raised yet, marked raised at `now`."""
        raised = [replace(r, overdue_raised_at=now) for r in due_for_notice(self.by_order.values(), now)]
        for r in raised:
            self.by_order[r.order_id] = r
        return raised
