"""Order events -> one compact, order-independent record per order id, and what that order contributes.

The record is a fold with min/sum semantics, so the same set of events gives the same record
whatever the arrival order, and a redelivery changes nothing:
  * pay_ts    = earliest paid / shipped / delivered / refunded event (a refund implies payment);
  * cancel_ts = earliest cancelled event;
  * gross, attrs come from the "defining" event: the earliest paid/shipped/delivered one, else
    created or invoiced, else cancelled, else refunded (ties broken by event id);
  * refunded  = sum of distinct refunded events (their 8-byte ids are kept to drop redeliveries).
An invoiced order is billed, not paid: it counts from its paid (or shipped / delivered) event, as
an order that was only created; its receivable is agents/receivables'.
An order counts from its payment unless it was cancelled no later than it was paid; a cancellation
after payment refunds it in full; refunds never exceed the order's gross amount.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from agents.customers.codec import NEVER, blob_has
from schemas.events import OrderStatus

# Rank of an event as the source of the order's amount and attributes (lower wins).
DEFINING_RANK = {
    OrderStatus.paid: 0, OrderStatus.shipped: 0, OrderStatus.delivered: 0,
    OrderStatus.created: 1, OrderStatus.invoiced: 1, OrderStatus.cancelled: 2, OrderStatus.refunded: 3,
}
PAID_LIKE = frozenset({OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered, OrderStatus.refunded})
NO_RANK = 9


class OrderRecord(NamedTuple):
    pay_ts: int = NEVER
    cancel_ts: int = NEVER
    def_rank: int = NO_RANK
    def_ts: int = NEVER
    def_ev: bytes = b"\xff" * 8
    gross: int = 0
    refunded: int = 0
    refund_evs: bytes = b""
    attrs: Any = None          # opaque to the fold: whatever the caller derives from the defining event


class Contribution(NamedTuple):
    at: int                    # payment time, microseconds
    gross: int
    refunds: int
    attrs: Any

    @property
    def net(self) -> int:
        return self.gross - self.refunds


EMPTY = OrderRecord()


def fold(rec: OrderRecord, status: OrderStatus, ts: int, ev: bytes, amount: int, attrs: Any) -> OrderRecord:
    """Record + one order event -> new record (the same object when the event changes nothing)."""
    pay_ts, cancel_ts, refunded, refund_evs = rec.pay_ts, rec.cancel_ts, rec.refunded, rec.refund_evs
    if status is OrderStatus.refunded:
        if blob_has(refund_evs, ev):
            return rec
        refunded += amount
        refund_evs += ev
    if status in PAID_LIKE and ts < pay_ts:
        pay_ts = ts
    if status is OrderStatus.cancelled and ts < cancel_ts:
        cancel_ts = ts
    rank = DEFINING_RANK[status]
    if (rank, ts, ev) < (rec.def_rank, rec.def_ts, rec.def_ev):
        return OrderRecord(pay_ts, cancel_ts, rank, ts, ev, amount, refunded, refund_evs, attrs)
    if (pay_ts, cancel_ts, refunded) == (rec.pay_ts, rec.cancel_ts, rec.refunded):
        return rec
    return rec._replace(pay_ts=pay_ts, cancel_ts=cancel_ts, refunded=refunded, refund_evs=refund_evs)


def contribution(rec: OrderRecord) -> Contribution | None:
    """What a record adds to totals: None unless the order counts (paid, not cancelled before payment)."""
    if rec.pay_ts == NEVER or rec.cancel_ts <= rec.pay_ts:
        return None
    refunds = rec.gross if rec.cancel_ts != NEVER else min(rec.refunded, rec.gross)
    return Contribution(rec.pay_ts, rec.gross, refunds, rec.attrs)
