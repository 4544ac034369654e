"""Table-driven order semantics: count once from payment, refunds, cancellations, redelivery, arrival order."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

import pytest

from agents.customers import CustomerBook
from schemas.events import OrderStatus as S
from tests.support.factories import IN_EUR, at, make_order

# (name, [(status, minute, amount, event key)], expected (orders, net spend, refunds))
CASES = [
    ("created only", [(S.created, 0, "100", "a")], (0, "0", "0")),
    ("paid", [(S.created, 0, "100", "a"), (S.paid, 1, "100", "b")], (1, "100", "0")),
    ("status updates count once", [(S.paid, 1, "100", "b"), (S.shipped, 2, "100", "c"),
                                   (S.delivered, 3, "100", "d")], (1, "100", "0")),
    ("shipped without paid counts", [(S.shipped, 2, "80", "c")], (1, "80", "0")),
    ("cancelled before payment", [(S.created, 0, "100", "a"), (S.cancelled, 1, "100", "b")], (0, "0", "0")),
    ("cancelled before a later payment", [(S.cancelled, 1, "100", "b"), (S.paid, 2, "100", "c")], (0, "0", "0")),
    ("cancelled after payment is a full refund", [(S.paid, 1, "100", "b"), (S.cancelled, 5, "100", "c")],
     (1, "0", "100")),
    ("partial refund", [(S.paid, 1, "100", "b"), (S.refunded, 5, "30", "c")], (1, "70", "30")),
    ("two partial refunds", [(S.paid, 1, "100", "b"), (S.refunded, 5, "30", "c"), (S.refunded, 6, "20", "d")],
     (1, "50", "50")),
    ("redelivered refund counts once", [(S.paid, 1, "100", "b"), (S.refunded, 5, "30", "c"),
                                        (S.refunded, 5, "30", "c")], (1, "70", "30")),
    ("refunds capped at the order amount", [(S.paid, 1, "100", "b"), (S.refunded, 5, "80", "c"),
                                            (S.refunded, 6, "80", "d")], (1, "0", "100")),
    ("refund implies payment", [(S.refunded, 5, "30", "c")], (1, "0", "30")),
    ("refund then cancel: full refund, not more", [(S.paid, 1, "100", "b"), (S.refunded, 5, "30", "c"),
                                                   (S.cancelled, 6, "100", "d")], (1, "0", "100")),
    ("amount from the payment, not creation", [(S.created, 0, "120", "a"), (S.paid, 1, "100", "b")],
     (1, "100", "0")),
]


def _events(spec):
    ids = {}
    return [make_order(event_id=ids.setdefault(k, uuid.uuid4()), status=st, occurred_at=at(m), amount=Decimal(a))
            for st, m, a, k in spec]


@pytest.mark.parametrize("name,spec,expected", CASES, ids=[c[0] for c in CASES])
def test_order_semantics_in_every_arrival_order(name, spec, expected):
    events = _events(spec)
    for perm in itertools.permutations(events):
        book = CustomerBook(rates=IN_EUR)
        for e in perm:
            book.order(e)
        snap = book.snapshot("cust-1", at(60))
        assert (snap.orders_count, snap.total_spend, snap.refunds) == (
            expected[0], Decimal(expected[1]), Decimal(expected[2])), perm


def test_average_order_value_and_rhythm():
    book = CustomerBook(rates=IN_EUR)
    for i, amount in enumerate(["10", "20", "40"]):
        book.order(make_order(order_id=f"o{i}", occurred_at=at(i * 60 * 24 * 10), amount=Decimal(amount)))
    snap = book.snapshot("cust-1", at(60 * 24 * 25))
    assert snap.average_order_value == Decimal("23.33")
    assert snap.mean_days_between_orders == 10.0
    assert snap.first_order_at == at(0) and snap.last_order_at == at(60 * 24 * 20)


def test_spend_by_category_follows_line_values():
    from schemas.events import LineItem

    items = (LineItem(sku="A", category="home", quantity=1, unit_price=Decimal("75")),
             LineItem(sku="B", category="garden", quantity=1, unit_price=Decimal("25")))
    book = CustomerBook(rates=IN_EUR)
    book.order(make_order(items=items, amount=Decimal("100")))
    book.order(make_order(status=S.refunded, occurred_at=at(5), amount=Decimal("40")))
    snap = book.snapshot("cust-1", at(10))
    assert snap.spend_by_category == {"garden": Decimal("15.00"), "home": Decimal("45.00")}
    assert snap.favourite_category == "home"


def test_latest_order_names_the_owner():
    book = CustomerBook(rates=IN_EUR)
    book.order(make_order(order_id="o2", occurred_at=at(10), sales_rep_id="rep-new"))
    book.order(make_order(order_id="o1", occurred_at=at(0), sales_rep_id="rep-old"))
    assert book.snapshot("cust-1", at(20)).owner_rep_id == "rep-new"
