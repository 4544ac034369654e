"""Every event the schema accepts, however extreme (the largest amounts, quantities and line totals,
the calendar's supported edges), goes through the customer and KPI cores and their snapshots
without an exception: a valid event that raises there would be dead-lettered, not counted."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agents.customers.book import CustomerBook
from agents.kpis import KpiState, Rates, apply_funnel, apply_order, apply_spend, kpi_snapshots
from schemas.events import (
    EARLIEST, MAX_AMOUNT, CampaignSpendEvent, Channel, FunnelEvent, FunnelStage, LineItem, OrderEvent, OrderStatus,
)

amounts = st.sampled_from([Decimal(0), Decimal("0.0001"), MAX_AMOUNT]) | \
    st.decimals(0, MAX_AMOUNT, places=4, allow_nan=False, allow_infinity=False)
times = st.sampled_from([EARLIEST, datetime(2199, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]) | \
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30), timezones=st.just(timezone.utc))
lines = st.builds(LineItem, sku=st.sampled_from(["s1", "s2"]), category=st.sampled_from(["a", "b", "c"]),
                  quantity=st.sampled_from([1, 1_000_000]) | st.integers(1, 1_000_000), unit_price=amounts)


@st.composite
def orders(draw) -> OrderEvent | None:
    try:
        return OrderEvent(occurred_at=draw(times), channel=Channel.web, customer_id=draw(st.sampled_from(["c1", "c2"])),
                          order_id=draw(st.sampled_from(["o1", "o2", "o3"])),
                          status=draw(st.sampled_from(list(OrderStatus))),
                          amount=draw(amounts), currency="EUR", items=tuple(draw(st.lists(lines, max_size=4))),
                          campaign_id="camp", sales_rep_id="rep-1", region="north")
    except ValidationError:  # lines over the bound: the schema's refusal, covered in test_schemas
        return None


# The largest rate the currencies file allows, then a tiny one: converted amounts at both extremes.
RATES = Rates(reporting_currency="USD", rates=(
    {"currency": "EUR", "rate": 1_000_000, "from": datetime(1970, 1, 1).date()},
    {"currency": "EUR", "rate": Decimal("0.000000000001"), "from": datetime(2100, 1, 1).date()},
))


@settings(max_examples=300, deadline=None)
@given(st.lists(orders(), min_size=1, max_size=12), amounts, times)
def test_extreme_valid_events_go_through_the_customer_and_kpi_cores(events, spend, now):
    events = [e for e in events if e is not None]
    assume(events)
    book, kpis = CustomerBook(), KpiState(RATES)
    for e in events:
        book.order(e)
        apply_order(kpis, e)
        apply_funnel(kpis, FunnelEvent(occurred_at=e.occurred_at, channel=Channel.web, customer_id=e.customer_id,
                                       opportunity_id=e.order_id, stage=FunnelStage.won, sales_rep_id="rep-1", region="north"))
    apply_spend(kpis, CampaignSpendEvent(occurred_at=now, campaign_id="camp", amount=spend, currency="EUR",
                                         period_start=now, period_end=now))
    for customer_id in book.profiles:
        book.snapshot(customer_id, now)
    for window in ("hour", "day", "month", "total"):
        kpi_snapshots(kpis, window, now, None)
