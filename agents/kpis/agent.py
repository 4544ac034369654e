"""orders, campaign.spend -> salespulse_kpi_unconverted_amount_total: amounts the KPIs leave apart for want of a rate.

The KPI figures themselves are computed from the stored events (agents.kpis.web); this handler only counts,
once per event as it arrives (redeliveries never reach it), what those figures cannot include.
"""

from __future__ import annotations

from pipeline.currency import Rates, load_rates
from schemas.events import CampaignSpendEvent, OrderEvent, OrderStatus

# The statuses whose amount is money that moved: a created / shipped / delivered event repeats the order total.
COUNTED = frozenset({OrderStatus.paid, OrderStatus.refunded})


class Unconverted:
    def __init__(self, rt, rates: Rates) -> None:
        self.metrics, self.rates = rt.metrics, rates

    def _count(self, currency: str, amount, at) -> None:
        if self.rates.convert(amount, currency, at) is None:
            m = self.metrics
            m.kpi_unconverted.labels(m.bounded("currency", currency)).inc(float(amount))

    async def on_order(self, e: OrderEvent, meta) -> None:
        if e.status in COUNTED:
            self._count(e.currency, e.amount, e.occurred_at)

    async def on_spend(self, e: CampaignSpendEvent, meta) -> None:
        self._count(e.currency, e.amount, e.occurred_at)


def register(rt) -> Rates:
    """Load config/currencies.yaml (the worker refuses to start on a bad file) and count unconverted amounts."""
    rates = load_rates(rt.settings.paths.resolve("currencies", "currencies.yaml"))
    u = Unconverted(rt, rates)
    rt.on("order", u.on_order)
    rt.on("campaign_spend", u.on_spend)
    return rates
