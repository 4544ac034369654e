"""OrderEvents -> OrderBook: order id -> the SKUs, categories and region a complaint about it concerns, bounded.

Feedback names an order, not a product: this is how a complaint reaches its SKUs. Orders and feedback are
both keyed by customer, so the worker that takes a customer's feedback has seen that customer's orders, as
far back as it has run (memory only: after a restart or a rebalance, orders from before are unknown and
their complaints count for the channel, not for a SKU, category or region).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.events import OrderEvent


@dataclass(frozen=True, slots=True)
class OrderFacts:
    skus: tuple[str, ...]
    categories: tuple[str, ...]
    region: str | None
    seen_at: datetime


class OrderBook:
    """Orders seen within `horizon` of the latest one (and at most `max_orders` of them), oldest dropped first."""

    def __init__(self, horizon: timedelta, max_orders: int) -> None:
        self.horizon, self.max_orders = horizon, max_orders
        self._orders: OrderedDict[str, OrderFacts] = OrderedDict()
        self._latest: datetime | None = None

    def __len__(self) -> int:
        return len(self._orders)

    def add(self, e: OrderEvent) -> None:
        """Status updates often repeat the order without its lines: keep what earlier events said."""
        known = self._orders.pop(e.order_id, None)
        skus = tuple(sorted({i.sku for i in e.items})) or (known.skus if known else ())
        cats = tuple(sorted({i.category for i in e.items})) or (known.categories if known else ())
        region = e.region or (known.region if known else None)
        at = max(e.occurred_at, known.seen_at) if known else e.occurred_at
        self._orders[e.order_id] = OrderFacts(skus, cats, region, at)  # re-inserted: now the newest
        if self._latest is None or at > self._latest:
            self._latest = at
        self._prune()

    def get(self, order_id: str | None) -> OrderFacts | None:
        return self._orders.get(order_id) if order_id else None

    def _prune(self) -> None:
        cutoff = self._latest - self.horizon
        orders = self._orders
        while orders:
            oldest = next(iter(orders.values()))
            if oldest.seen_at >= cutoff and len(orders) <= self.max_orders:
                break
            orders.popitem(last=False)
