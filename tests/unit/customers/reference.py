"""A deliberately plain reference of the order semantics, written apart from agents.customers.orders."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from schemas.events import OrderEvent, OrderStatus

PAID_LIKE = {OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered, OrderStatus.refunded}
SOURCE_PREFERENCE = [{OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered}, {OrderStatus.created, OrderStatus.invoiced},
                     {OrderStatus.cancelled}, {OrderStatus.refunded}]


def order_outcome(events: list[OrderEvent]):
    """Distinct events of one order (distinct times assumed) -> None or (paid_at, gross, refunds, channel)."""
    unique = list({e.event_id: e for e in events}.values())
    paid = [e.occurred_at for e in unique if e.status in PAID_LIKE]
    if not paid:
        return None
    paid_at = min(paid)
    cancels = [e.occurred_at for e in unique if e.status == OrderStatus.cancelled]
    if cancels and min(cancels) <= paid_at:
        return None
    for group in SOURCE_PREFERENCE:
        candidates = sorted((e for e in unique if e.status in group), key=lambda e: e.occurred_at)
        if candidates:
            source = candidates[0]
            break
    gross = source.amount
    if cancels:
        refunds = gross
    else:
        refunds = min(gross, sum((e.amount for e in unique if e.status == OrderStatus.refunded), Decimal(0)))
    return paid_at, gross, refunds, source


def customer_totals(events: list[OrderEvent]) -> dict[str, dict]:
    by_order = defaultdict(list)
    for e in events:
        by_order[(e.customer_id, e.order_id)].append(e)
    out: dict[str, dict] = {}
    for (cid, _), evs in by_order.items():
        res = order_outcome(evs)
        t = out.setdefault(cid, {"orders_count": 0, "total_spend": Decimal(0), "refunds": Decimal(0),
                                 "times": [], "by_channel": defaultdict(Decimal)})
        if res is None:
            continue
        paid_at, gross, refunds, source = res
        t["orders_count"] += 1
        t["total_spend"] += gross - refunds
        t["refunds"] += refunds
        t["times"].append(paid_at)
        t["by_channel"][source.channel.value] += gross - refunds
    return out
