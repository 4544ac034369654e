"""Any permutation, duplication or split (state serialised in between) of the same events gives the same
profiles, and those equal a plain reference computation."""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from agents.customers import CustomerBook, CustomerProfile
from schemas.events import Channel, LineItem, OrderStatus
from tests.support.factories import IN_EUR, at, make_order
from tests.unit.customers.reference import customer_totals

CUSTOMERS = ["c0", "c1", "c2"]
NOW = at(60 * 24 * 400)


@st.composite
def histories(draw):
    """Order and classified-feedback events with distinct times (ties are broken by event id, not modelled here)."""
    n = draw(st.integers(1, 25))
    minutes = draw(st.lists(st.integers(0, 60 * 24 * 300), min_size=n, max_size=n, unique=True))
    events = []
    for m in minutes:
        if draw(st.integers(0, 4)) == 0:
            events.append(("feedback", draw(st.sampled_from(CUSTOMERS)), uuid.uuid4(), at(m),
                           draw(st.floats(-1, 1)), draw(st.booleans()), draw(st.sampled_from(["price", "delivery"]))))
            continue
        k = draw(st.integers(0, 5))
        events.append(make_order(
            customer_id=CUSTOMERS[k % 3], order_id=f"o{k}", occurred_at=at(m),
            status=draw(st.sampled_from(list(OrderStatus))), amount=Decimal(draw(st.integers(1, 500))),
            channel=draw(st.sampled_from([Channel.web, Channel.store])), event_id=uuid.uuid4()))
    return events


def run(events, split_at=None):
    book = CustomerBook(rates=IN_EUR)
    for i, e in enumerate(events):
        if i == split_at:  # restart from the stored form, as after a rebalance
            stored = [json.loads(json.dumps(p.to_dict())) for p in book.profiles.values()]
            book = CustomerBook(book.params, [CustomerProfile.from_dict(d) for d in stored], IN_EUR)
        if isinstance(e, tuple):
            book.feedback(*e[1:])
        else:
            book.order(e)
    return book


def view(book):
    """Snapshots as dicts, with the float aggregates rounded off separately."""
    out = {}
    for s in book.snapshots(NOW):
        d = s.model_dump(exclude={"event_id"})
        p = book.profiles[s.customer_id]
        d["rolling_sentiment"] = p.rolling_sentiment()
        d["churn_risk"] = s.churn_risk
        out[s.customer_id] = d
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for cid in a:
        x, y = dict(a[cid]), dict(b[cid])
        for k in ("rolling_sentiment", "churn_risk"):
            u, v = x.pop(k), y.pop(k)
            assert (u is None) == (v is None) and (u is None or math.isclose(u, v, abs_tol=1e-3)), (cid, k, u, v)
        assert x == y, cid


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_permutation_duplication_split_do_not_matter(events, rnd, data):
    expected = view(run(events))
    shuffled = list(events) + data.draw(st.lists(st.sampled_from(events), max_size=8), label="redelivered")
    rnd.shuffle(shuffled)
    split = data.draw(st.integers(0, len(shuffled)), label="split")
    assert_same(view(run(shuffled, split_at=split)), expected)


@settings(max_examples=150, deadline=None)
@given(histories())
def test_profiles_match_the_reference(events):
    book = run(events)
    orders = [e for e in events if not isinstance(e, tuple)]
    feedback = [e for e in events if isinstance(e, tuple)]
    ref = customer_totals(orders)
    for cid in CUSTOMERS:
        snap = book.snapshot(cid, NOW)
        r = ref.get(cid, {"orders_count": 0, "total_spend": 0, "refunds": 0, "times": [], "by_channel": {}})
        assert snap.orders_count == r["orders_count"]
        assert snap.total_spend == r["total_spend"]
        assert snap.refunds == r["refunds"]
        assert snap.first_order_at == (min(r["times"]) if r["times"] else None)
        assert snap.last_order_at == (max(r["times"]) if r["times"] else None)
        assert snap.spend_by_channel == {k: v for k, v in r["by_channel"].items()}
        mine = [f for f in feedback if f[1] == cid]
        assert snap.feedback_count == len(mine)
        negatives = [f for f in mine if f[5]]
        assert snap.complaints_by_category == {c: sum(1 for f in negatives if f[6] == c)
                                               for c in {f[6] for f in negatives}}
        if mine:
            latest = max(f[3] for f in mine)
            w = [0.5 ** ((latest - f[3]).total_seconds() / 86400 / 14) for f in mine]
            if sum(w) > 0:
                expected = sum(wi * f[4] for wi, f in zip(w, mine)) / sum(w)
                assert math.isclose(book.profiles[cid].rolling_sentiment(), expected, abs_tol=1e-6)


@settings(max_examples=200, deadline=None)
@given(histories(), st.lists(st.sampled_from(["home", "garden", "toys"]), min_size=1, max_size=3), st.data())
def test_totals_kept_per_event_equal_a_recount(events, categories, data):
    """Totals and spend breakdowns are updated per order change, not recomputed from every order:
    after each event they equal a recount of the stored form (snapshots taken all along, so the
    incrementally kept breakdown is the one compared)."""
    book = CustomerBook(rates=IN_EUR)
    for e in events:
        if isinstance(e, tuple):
            book.feedback(*e[1:])
            continue
        if data.draw(st.booleans(), label="several lines"):
            price = (e.amount / len(categories)).quantize(Decimal("0.01"))
            e = e.model_copy(update={"items": tuple(
                LineItem(sku=f"S{i}", category=c, quantity=1 + i, unit_price=price) for i, c in enumerate(categories))})
        book.order(e)
        p = book.profiles[e.customer_id]
        fresh = CustomerProfile.from_dict(json.loads(json.dumps(p.to_dict())))
        assert (p.orders_count, p.net, p.refunds, p.first_ts, p.last_ts) == \
            (fresh.orders_count, fresh.net, fresh.refunds, fresh.first_ts, fresh.last_ts)
        assert p.spend_breakdown() == fresh.spend_breakdown()


def test_stored_form_is_small_and_round_trips():
    book = CustomerBook(rates=IN_EUR)
    for i in range(5):
        book.order(make_order(order_id=f"o{i}", occurred_at=at(i * 1000)))
    p = book.profiles["cust-1"]
    d = p.to_dict()
    assert len(json.dumps(d)) < 1024
    assert CustomerProfile.from_dict(json.loads(json.dumps(d))).to_dict() == d
