"""The escalation chain's customer context, read straight from a profile, equals the one read from
the profile's full snapshot (what it was built from before), for customers of every kind."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from agents.customers import CustomerBook
from agents.customers.agent import routing_context
from agents.escalation.routing import CustomerContext
from schemas.events import OrderStatus
from tests.support.factories import T0, make_order


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), customers=st.integers(1, 30), orders=st.integers(0, 120),
       feedback=st.integers(0, 40), days_later=st.integers(0, 900))
def test_context_from_the_profile_equals_the_context_from_its_snapshot(seed, customers, orders, feedback, days_later):
    rng = random.Random(seed)
    book = CustomerBook()
    ids = [f"cust-{i}" for i in range(customers)]
    for n in range(orders):
        cid = rng.choice(ids)
        amount = Decimal(rng.randrange(1, 500_000)) / 100
        status = rng.choice([OrderStatus.paid, OrderStatus.paid, OrderStatus.delivered, OrderStatus.refunded])
        book.order(make_order(customer_id=cid, order_id=f"{cid}-o{rng.randrange(8)}", status=status,
                              amount=amount, items=(), occurred_at=T0 + timedelta(days=rng.randrange(365)),
                              region=rng.choice(["north", "south", None]),
                              sales_rep_id=rng.choice(["rep-1", "rep-2", None])))
    for _ in range(feedback):
        score = rng.uniform(-1, 1)
        book.feedback(rng.choice(ids), uuid.UUID(int=rng.getrandbits(128)), T0 + timedelta(days=rng.randrange(365)),
                      score, score < -0.3, rng.choice(["delivery", "product", "billing"]))
    now = T0 + timedelta(days=365 + days_later)
    contexts = []
    for cid in ids:
        p = book.profile(cid)
        contexts.append(routing_context(book, p, now))
        assert contexts[-1] == CustomerContext.from_profile(book.snapshot(cid, now))
    if orders >= 20:  # the comparison covers scored customers, not only empty profiles
        assert any(c.segment is not None and c.value is not None for c in contexts)
