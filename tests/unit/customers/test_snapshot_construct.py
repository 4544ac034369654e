"""Profile snapshots are built without validation (`model_construct`, for speed): they must be what
validation would make of them, to the byte on the wire, for customers of every kind; the worker's
snapshot built as a dict (`snapshot_wire`) must be the model's bytes; and the fast `stable_id` must
be uuid5."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from agents.customers import CustomerBook
from agents.customers.snapshot import snapshot_wire
from schemas.customers import NAMESPACE, CustomerProfileSnapshot, stable_id
from schemas.events import LineItem, OrderStatus, Severity
from tests.support.factories import T0, add_random_feedback, add_random_orders, make_incident, make_order


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), customers=st.integers(1, 30), orders=st.integers(0, 150),
       feedback=st.integers(0, 40), incidents=st.integers(0, 10), days_later=st.integers(0, 900))
def test_a_constructed_snapshot_is_what_validation_makes_of_it(seed, customers, orders, feedback, incidents,
                                                               days_later):
    rng = random.Random(seed)
    book = CustomerBook()
    ids = [f"cust-{i}" for i in range(customers)]
    add_random_orders(
        book, rng, ids, orders, amount=lambda r: Decimal(r.randrange(1, 50_000_000)) / r.choice([1, 100, 10_000]),
        statuses=[OrderStatus.paid, OrderStatus.paid, OrderStatus.delivered, OrderStatus.refunded,
                  OrderStatus.created, OrderStatus.cancelled],
        items=lambda r, amount: r.choice([(), (LineItem(sku="s1", category=r.choice(["home", "toys", "books"]),
                                                        quantity=1, unit_price=amount),)]))
    add_random_feedback(book, rng, ids, feedback)
    for i in range(incidents):
        book.incident(make_incident(customer_id=rng.choice(ids), incident_key=f"k{i}",
                                    severity=rng.choice(list(Severity))))
    now = T0 + timedelta(days=365 + days_later, microseconds=rng.randrange(10**6))
    for cid in ids:
        built = book.snapshot(cid, now)
        wire = built.model_dump_json()
        validated = CustomerProfileSnapshot.model_validate_json(wire)
        assert validated == built
        assert validated.model_dump_json() == wire
        assert validated.model_dump(mode="json") == built.model_dump(mode="json")
        wire = snapshot_wire(book.profile(cid), book.population, now, book.params, book.rates.reporting_currency)
        assert orjson.dumps(wire.json) == wire_bytes(built)  # what the worker publishes
        assert (wire.rfm.segment if wire.rfm else None) == (built.rfm.segment if built.rfm else None)
        assert (wire.churn_risk, wire.total_spend, wire.refunds, wire.average_order_value, wire.first_order_at,
                wire.last_order_at) == (built.churn_risk, built.total_spend, built.refunds,
                                        built.average_order_value, built.first_order_at, built.last_order_at)


def wire_bytes(snap: CustomerProfileSnapshot) -> bytes:
    return snap.model_dump_json().encode()


def test_the_check_above_catches_a_value_of_the_wrong_type():
    book = CustomerBook()
    book.order(make_order(customer_id="c1", order_id="o1", status=OrderStatus.paid, amount=Decimal("12.5")))
    built = book.snapshot("c1", T0 + timedelta(days=1))
    wrong = built.model_copy(update={"total_spend": 12.5})  # a float where validation makes a Decimal
    with pytest.warns(UserWarning, match="Expected `decimal`"):
        wire = wrong.model_dump_json()
    assert CustomerProfileSnapshot.model_validate_json(wire).model_dump_json() != wire


def test_stable_id_is_uuid5_of_the_joined_parts():
    rng = random.Random(5)
    for _ in range(5_000):
        parts = ("profile", f"c{rng.randrange(10**9)}", T0 + timedelta(seconds=rng.randrange(10**8)),
                 rng.random(), "ü中")
        assert stable_id(*parts) == uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts))
    assert stable_id("x").version == 5 and stable_id("x").variant == uuid.RFC_4122
