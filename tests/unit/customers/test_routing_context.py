"""The escalation chain's customer context, read straight from a profile, equals the one read from
the profile's full snapshot (what it was built from before), for customers of every kind."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from agents.customers import CustomerBook
from agents.customers.agent import routing_context
from agents.escalation.routing import CustomerContext
from schemas.events import OrderStatus
from tests.support.factories import T0, add_random_feedback, add_random_orders


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), customers=st.integers(1, 30), orders=st.integers(0, 120),
       feedback=st.integers(0, 40), days_later=st.integers(0, 900))
def test_context_from_the_profile_equals_the_context_from_its_snapshot(seed, customers, orders, feedback, days_later):
    rng = random.Random(seed)
    book = CustomerBook()
    ids = [f"cust-{i}" for i in range(customers)]
    add_random_orders(book, rng, ids, orders, amount=lambda r: Decimal(r.randrange(1, 500_000)) / 100,
                      statuses=[OrderStatus.paid, OrderStatus.paid, OrderStatus.delivered, OrderStatus.refunded])
    add_random_feedback(book, rng, ids, feedback)
    now = T0 + timedelta(days=365 + days_later)
    contexts = []
    for cid in ids:
        p = book.profile(cid)
        contexts.append(routing_context(book, p, now))
        assert contexts[-1] == CustomerContext.from_profile(book.snapshot(cid, now))
    if orders >= 20:  # the comparison covers scored customers, not only empty profiles
        assert any(c.segment is not None and c.value is not None for c in contexts)
