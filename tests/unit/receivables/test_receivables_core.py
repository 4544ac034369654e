"""Receivables core: the fold of order events, the overdue choice, the follow-up it raises, ageing buckets."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from agents.receivables.core import BUCKETS, Owner, Receivable, ageing, apply, bucket, due_for_notice, followup_task
from schemas.customers import FollowUpReason
from schemas.events import OrderEvent, OrderStatus
from tests.support.factories import T0, make_order

OWNER = Owner("rep-1", "team-north", "north")
DUE = T0 + timedelta(days=10)


def identity(amount, currency, at):
    return amount


def fold(events, terms=30):
    r = None
    for e in events:
        r = apply(r, e, OWNER, identity, terms)
    return r


def test_an_invoiced_order_is_open_until_paid_and_shipping_is_not_payment():
    inv = make_order(status=OrderStatus.invoiced, payment_due_at=DUE)
    r = fold([inv])
    assert (r.state, r.due_at, r.rep, r.team, r.region, r.amount_reporting) == \
        ("open", DUE, "rep-1", "team-north", "north", Decimal("100.00"))
    shipped = fold([inv, make_order(status=OrderStatus.shipped, occurred_at=T0 + timedelta(days=1))])
    assert shipped.state == "open"
    paid = fold([inv, make_order(status=OrderStatus.paid, occurred_at=T0 + timedelta(days=2))])
    assert (paid.state, paid.paid_at) == ("paid", T0 + timedelta(days=2))
    assert fold([inv, make_order(status=OrderStatus.cancelled, occurred_at=T0 + timedelta(days=1))]).state == "cancelled"


def test_no_due_date_means_the_configured_terms_and_orders_never_invoiced_are_no_receivable():
    assert fold([make_order(status=OrderStatus.invoiced)], terms=14).due_at == T0 + timedelta(days=14)
    assert fold([make_order(status=OrderStatus.paid), make_order(status=OrderStatus.shipped)]) is None


def test_a_redelivered_invoice_changes_nothing():
    inv = make_order(status=OrderStatus.invoiced, payment_due_at=DUE)
    r = fold([inv])
    assert apply(r, inv, OWNER, identity, 30) is r


@given(st.lists(st.tuples(st.sampled_from([s for s in OrderStatus if s is not OrderStatus.invoiced]),
                          st.integers(0, 500)), max_size=6))
def test_events_after_the_invoice_give_the_same_receivable_in_any_order(later):
    inv = make_order(status=OrderStatus.invoiced, payment_due_at=DUE)
    rest = [make_order(status=s, occurred_at=T0 + timedelta(hours=h)) for s, h in later]
    outcomes = {fold([inv, *p]) for p in itertools.islice(itertools.permutations(rest), 50)}
    assert len(outcomes) == 1


def test_overdue_once_the_due_date_passed_and_only_until_raised():
    r = fold([make_order(status=OrderStatus.invoiced, payment_due_at=DUE)])
    assert due_for_notice([r], DUE) == []
    assert due_for_notice([r], DUE + timedelta(seconds=1)) == [r]
    from dataclasses import replace
    assert due_for_notice([replace(r, overdue_raised_at=DUE)], DUE + timedelta(days=3)) == []
    assert due_for_notice([replace(r, paid_at=DUE)], DUE + timedelta(days=3)) == []


def test_the_follow_up_id_depends_on_the_order_only():
    r = fold([make_order(status=OrderStatus.invoiced, payment_due_at=DUE)])
    a, b = followup_task(r, DUE + timedelta(hours=1), 48), followup_task(r, DUE + timedelta(days=2), 48)
    assert a.event_id == b.event_id and a.reason is FollowUpReason.payment_overdue and a.owner_rep_id == "rep-1"
    assert a.due_at == DUE + timedelta(hours=49) and "ord-1" in a.detail


@pytest.mark.parametrize("past, expected", [
    (timedelta(days=-1), "current"), (timedelta(0), "current"), (timedelta(hours=1), "0-30"),
    (timedelta(days=30, hours=23), "0-30"), (timedelta(days=31), "31-60"), (timedelta(days=60, hours=5), "31-60"),
    (timedelta(days=61), "61-90"), (timedelta(days=90, hours=23), "61-90"), (timedelta(days=91), "90+"),
    (timedelta(days=400), "90+"),
])
def test_ageing_buckets(past, expected):
    r = fold([make_order(status=OrderStatus.invoiced, payment_due_at=DUE)])
    assert bucket(r, DUE + past) == expected


def _open(order_id, due, amount, team, region, converted=True):
    return Receivable(order_id, "c", Decimal(amount), "EUR", Decimal(amount) if converted else None, T0, due,
                      team=team, region=region)


def test_ageing_sums_by_team_and_region_and_leaves_settled_and_unconverted_amounts_out():
    now = T0 + timedelta(days=100)
    rows = [_open("a", now + timedelta(days=1), "10", "t-n", "north"),
            _open("b", now - timedelta(days=5), "20", "t-n", "north"),
            _open("c", now - timedelta(days=45), "30", "t-s", "south"),
            _open("d", now - timedelta(days=95), "40", "t-s", "south", converted=False),
            Receivable("e", "c", Decimal(50), "EUR", Decimal(50), T0, now - timedelta(days=5), paid_at=now)]
    a = ageing(rows, now)
    assert {b: (c["count"], c["amount"]) for b, c in a["total"].items()} == {
        "current": (1, 10), "0-30": (1, 20), "31-60": (1, 30), "61-90": (0, 0), "90+": (1, 0)}
    assert a["by_region"]["north"]["0-30"] == {"count": 1, "amount": Decimal(20)}
    assert a["by_team"]["t-s"]["90+"] == {"count": 1, "amount": Decimal(0)} and a["unconverted"] == 1
    assert list(a["total"]) == list(BUCKETS)


def test_every_order_status_of_today_still_validates_and_payment_due_at_is_optional():
    body = make_order().model_dump_json()
    assert OrderEvent.model_validate_json(body).payment_due_at is None
    e = OrderEvent.model_validate_json(make_order(status=OrderStatus.invoiced,
                                                  payment_due_at=datetime(2026, 12, 1, tzinfo=timezone.utc)).model_dump_json())
    assert e.status is OrderStatus.invoiced and e.payment_due_at.tzinfo is not None
    with pytest.raises(ValueError):
        OrderEvent.model_validate_json(body.replace('"payment_due_at":null', '"payment_due_at":"2026-12-01T00:00:00"'))
