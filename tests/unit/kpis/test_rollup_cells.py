"""KPI cells: partitions add up to the whole, whatever the order, duplication and split into partitions;
the incremental customer counters equal a count from scratch; category shares add up to the order."""

from __future__ import annotations

import json
import uuid
import zlib
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from agents.customers.orders import contribution
from agents.kpis import KpiState, Rates, apply_funnel, apply_order, apply_spend
from agents.kpis.cells import O_CUSTOMERS, O_GROSS, O_REPEAT, O_RETAINED, ORDERS, merge
from agents.kpis.state import split
from agents.kpis.windows import previous
from schemas.events import LineItem, OrderEvent, OrderStatus
from tests.support.factories import at, make_order
from tests.unit.kpis.test_kpi_properties import histories

EUR = Rates(reporting_currency="EUR")
APPLY = {"order": apply_order, "funnel": apply_funnel, "campaign_spend": apply_spend}
REP_TEAM = {"rep-1": "north", "rep-2": "north", "rep-3": "south"}


def partition_of(e, n: int) -> int:
    """As the emitter keys them: orders and funnel moves by customer, spend by campaign."""
    key = e.campaign_id if e.event_type == "campaign_spend" else e.customer_id
    return zlib.crc32(key.encode()) % n


def fold(events, partitions: int = 1, reload_at: int | None = None):
    states = defaultdict(lambda: KpiState(EUR, REP_TEAM))
    for i, e in enumerate(events):
        p = partition_of(e, partitions)
        if i == reload_at:   # a worker takes the partitions over from SQL's stored facts
            states = defaultdict(lambda: KpiState(EUR, REP_TEAM), {
                k: KpiState.from_dict(json.loads(json.dumps(s.to_dict())), EUR, REP_TEAM) for k, s in states.items()})
        APPLY[e.event_type](states[p], e)
    return states


@st.composite
def rich_histories(draw):
    """histories() plus regions, reps and line items in several categories."""
    out = []
    for e in draw(histories()):
        if isinstance(e, OrderEvent):
            k = int(e.order_id[1:])
            items = ()
            if k % 3:
                items = (LineItem(sku=f"SKU-{k}", category=["kettles", "toasters"][k % 2], quantity=1 + k % 2,
                                  unit_price=Decimal(7 + k)),
                         LineItem(sku="SKU-X", category="spares", quantity=1, unit_price=Decimal(3)))
            e = e.model_copy(update={"region": ["north", "south", None][k % 3], "items": items,
                                     "sales_rep_id": ["rep-1", "rep-3", None, "rep-9"][k % 4]})
        out.append(e)
    return out


@settings(max_examples=120, deadline=None)
@given(rich_histories(), st.randoms(use_true_random=False), st.data())
def test_partitions_add_up_to_the_whole(events, rnd, data):
    whole = fold(events)[0].cells
    shuffled = list(events) + data.draw(st.lists(st.sampled_from(events), max_size=8))
    rnd.shuffle(shuffled)
    n = data.draw(st.integers(1, 4))
    parts = fold(shuffled, n, reload_at=data.draw(st.integers(0, len(shuffled))))
    assert merge((k, v) for s in parts.values() for k, v in s.cells.items()) == whole


def recount(s: KpiState) -> dict:
    """Customers, repeat customers and retained customers of every order cell, from the facts alone."""
    members: dict = defaultdict(lambda: defaultdict(int))
    for rec in s.orders.values():
        c = contribution(rec)
        if c is not None:
            for key in s.order_cells(c):
                members[key][c.attrs[0]] += 1
    out = {}
    for key, who in members.items():
        kind, scope, g, b, dim, val = key
        prev_b = previous(g, b)
        before = members.get((kind, scope, g, prev_b, dim, val), {}) if prev_b is not None else {}
        out[key] = [len(who), sum(1 for n in who.values() if n >= 2), sum(1 for c in who if c in before)]
    return out


@settings(max_examples=120, deadline=None)
@given(rich_histories(), st.randoms(use_true_random=False))
def test_customer_counters_equal_a_count_from_scratch(events, rnd):
    events = list(events)
    rnd.shuffle(events)
    s = fold(events)[0]
    got = {k: [v[O_CUSTOMERS], v[O_REPEAT], v[O_RETAINED]] for k, v in s.cells.items() if k[0] == ORDERS}
    assert got == recount(s)


@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**9), min_size=1, max_size=6))
def test_a_split_adds_up_to_the_amount(amount, weights):
    assert sum(split(amount, tuple((f"c{i}", w) for i, w in enumerate(weights)))) == amount


def test_an_order_counts_in_each_category_in_proportion_to_its_lines():
    s = KpiState(EUR)
    apply_order(s, make_order(order_id="o1", amount=Decimal("100"), occurred_at=at(0), event_id=uuid.uuid4(),
                              status=OrderStatus.paid, items=(
                                  LineItem(sku="K1", category="kettles", quantity=3, unit_price=Decimal("20")),
                                  LineItem(sku="T1", category="toasters", quantity=1, unit_price=Decimal("40")))))
    cat = {k[5]: v for k, v in s.cells.items() if k[:5] == (ORDERS, "*", "total", 0, "category")}
    assert {c: v[O_GROSS] for c, v in cat.items()} == {"kettles": 600_000, "toasters": 400_000}
    assert all(v[0] == 1 and v[O_CUSTOMERS] == 1 for v in cat.values())


@st.composite
def dense_histories(draw):
    """Orders of three customers within hours of each other (neighbouring hour and day cells), in every
    status, with categories, and one order whose events name different customers."""
    events = []
    for m in draw(st.lists(st.integers(0, 60 * 50), min_size=1, max_size=40, unique=True)):
        k = draw(st.integers(0, 9))
        events.append(make_order(
            customer_id=f"c{draw(st.integers(0, 2)) if k == 9 else k % 3}", order_id=f"o{k}", occurred_at=at(m),
            event_id=uuid.uuid4(), status=draw(st.sampled_from(list(OrderStatus))),
            amount=Decimal(draw(st.integers(1, 500))), region=[None, "north"][k % 2],
            sales_rep_id=[None, "rep-1", "rep-3"][k % 3], campaign_id="spring-sale" if k < 4 else None,
            items=() if k % 4 == 0 else (LineItem(sku="S1", category="home", quantity=1, unit_price=Decimal(3)),
                                         LineItem(sku="S2", category=["toys", "home"][k % 2], quantity=2,
                                                  unit_price=Decimal(5)))))
    return events


@settings(max_examples=200, deadline=None)
@given(dense_histories(), st.randoms(use_true_random=False))
def test_customer_counters_equal_a_count_from_scratch_hour_by_hour(events, rnd):
    """The same with the orders hours apart, where retention moves between neighbouring cells at
    every granularity (an order entering or leaving updates the cell after its own too)."""
    rnd.shuffle(events)
    s = fold(events)[0]
    got = {k: [v[O_CUSTOMERS], v[O_REPEAT], v[O_RETAINED]] for k, v in s.cells.items() if k[0] == ORDERS}
    assert got == recount(s)
