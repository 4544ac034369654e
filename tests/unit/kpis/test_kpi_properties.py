"""KPIs: permutation, duplication and split do not matter, and the numbers equal a plain reference."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from agents.kpis import KpiState, Rates, apply_funnel, apply_order, apply_spend, kpi_snapshots
from agents.kpis.windows import GRANULARITIES, bucket, buckets
from schemas.events import Channel, FunnelStage, OrderEvent, OrderStatus
from tests.support.factories import at, make_funnel, make_order, make_spend
from tests.unit.customers.reference import order_outcome

NOW = at(60 * 24 * 60)
# The factories' amounts are in EUR: reported in EUR they keep their values, which the reference sums.
EUR = Rates(reporting_currency="EUR")


@st.composite
def histories(draw):
    n = draw(st.integers(1, 30))
    minutes = draw(st.lists(st.integers(0, 60 * 24 * 20), min_size=n, max_size=n, unique=True))
    events = []
    for m in minutes:
        kind = draw(st.integers(0, 9))
        if kind == 0:
            events.append(make_spend(occurred_at=at(m), period_start=at(m), period_end=at(m + 60),
                                     amount=Decimal(draw(st.integers(1, 300))), event_id=uuid.uuid4()))
        elif kind == 1:
            events.append(make_funnel(opportunity_id=f"p{draw(st.integers(0, 3))}", occurred_at=at(m),
                                      stage=draw(st.sampled_from(list(FunnelStage))), event_id=uuid.uuid4()))
        else:
            k = draw(st.integers(0, 7))
            events.append(make_order(
                customer_id=f"c{k % 4}", order_id=f"o{k}", occurred_at=at(m), event_id=uuid.uuid4(),
                status=draw(st.sampled_from(list(OrderStatus))), amount=Decimal(draw(st.integers(1, 500))),
                channel=[Channel.web, Channel.store][k % 2], campaign_id="spring-sale" if k < 3 else None))
    return events


APPLY = {"order": apply_order, "funnel": apply_funnel, "campaign_spend": apply_spend}


def run(events, split_at=None):
    s = KpiState(EUR)
    for i, e in enumerate(events):
        if i == split_at:
            s = KpiState.from_dict(json.loads(json.dumps(s.to_dict())), EUR)
        APPLY[e.event_type](s, e)
    return s


def report(s):
    return [snap.model_dump(exclude={"event_id"}) for g in ("day", "total") for snap in kpi_snapshots(s, g, NOW)]


@settings(max_examples=120, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_permutation_duplication_split_do_not_matter(events, rnd, data):
    expected = report(run(events))
    shuffled = list(events) + data.draw(st.lists(st.sampled_from(events), max_size=8))
    rnd.shuffle(shuffled)
    assert report(run(shuffled, split_at=data.draw(st.integers(0, len(shuffled))))) == expected


def reference(events):
    """(day or None, channel or '*') -> orders, net revenue, set of customers; plus ROI to date."""
    by_order = defaultdict(list)
    for e in events:
        if isinstance(e, OrderEvent):
            by_order[e.order_id].append(e)
    cells = defaultdict(lambda: [0, Decimal(0), set()])
    campaign_rev = Decimal(0)
    for evs in by_order.values():
        res = order_outcome(evs)
        if res is None:
            continue
        paid_at, gross, refunds, source = res
        day = paid_at.replace(hour=0, minute=0, second=0, microsecond=0)
        for key in ((day, "*"), (day, source.channel.value), (None, "*"), (None, source.channel.value)):
            cells[key][0] += 1
            cells[key][1] += gross - refunds
            cells[key][2].add(source.customer_id)
        if source.campaign_id:
            campaign_rev += gross - refunds
    spend = sum((e.amount for e in {e.event_id: e for e in events if e.event_type == "campaign_spend"}.values()),
                Decimal(0))
    return cells, campaign_rev, spend


@settings(max_examples=120, deadline=None)
@given(histories())
def test_kpis_match_the_reference(events):
    s = run(events)
    cells, campaign_rev, spend = reference(events)
    got = {}
    for g in ("day", "total"):
        for snap in kpi_snapshots(s, g, NOW):
            for row in snap.rows:
                if row.dimension in ("all", "channel"):
                    got[(snap.bucket_start, row.value)] = row
    assert set(got) == set(cells)
    for key, (orders, revenue, customers) in cells.items():
        row = got[key]
        assert (row.orders, row.revenue, row.customers) == (orders, revenue, len(customers))
        day, channel = key
        if day is not None:
            before = cells.get((day - timedelta(days=1), channel))
            expected = round(len(before[2] & customers) / len(before[2]), 4) if before else None
            assert row.retention == expected
    total = kpi_snapshots(s, "total", NOW)
    rows = {c.campaign_id: c for snap in total for c in snap.campaigns}
    if spend:
        assert rows["spring-sale"].roi == round(float((campaign_rev - spend) / spend), 4)
    elif "spring-sale" in rows:
        assert rows["spring-sale"].roi is None


def test_funnel_conversion_drop_off_and_time_to_convert():
    s = KpiState(EUR)
    stages = {"p1": ["lead", "qualified", "proposal", "negotiation", "won"], "p2": ["lead", "qualified", "lost"],
              "p3": ["lead"], "p4": ["lead", "qualified", "proposal", "won"]}
    for opp, path in stages.items():
        for i, stage in enumerate(path):
            apply_funnel(s, make_funnel(opportunity_id=opp, stage=FunnelStage(stage), occurred_at=at(i * 60)))
    row = next(r for r in kpi_snapshots(s, "total", NOW)[0].funnel if r.dimension == "all")
    assert row.reached == {"lead": 4, "qualified": 3, "proposal": 2, "negotiation": 2, "won": 2}
    assert row.conversion["lead"] == 0.75 and row.drop_off["qualified"] == round(1 - 2 / 3, 4)
    assert row.overall_conversion == 0.5 and row.lost == 1
    assert row.mean_seconds_to_convert == (4 * 3600 + 3 * 3600) / 2


def test_repeat_purchase_rate():
    s = KpiState(EUR)
    for i, cust in enumerate(["a", "a", "b", "c", "c", "c"]):
        apply_order(s, make_order(order_id=f"o{i}", customer_id=cust, occurred_at=at(i)))
    row = next(r for r in kpi_snapshots(s, "total", NOW)[0].rows if r.dimension == "all")
    assert row.repeat_purchase_rate == round(2 / 3, 4) and row.orders == 6


@given(st.integers(0, 4_102_444_800_000_000))  # 1970 .. 2100, microseconds
def test_buckets_are_each_granularitys_bucket(ts):
    assert buckets(ts) == tuple((g, bucket(g, ts)) for g in GRANULARITIES)
