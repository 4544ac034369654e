"""RFM quintiles against the live population, the segment grid, and churn risk."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from sortedcontainers import SortedList

from agents.customers import CustomerBook, RfmPopulation, ScoringParams, segment
from agents.customers.churn import churn_risk
from agents.customers.codec import to_us
from agents.customers.config import SEGMENTS
from agents.customers.rfm import quintile
from schemas.events import OrderStatus
from tests.support.factories import T0, at, make_order


@pytest.mark.parametrize("r,f,m,expected", [
    (5, 5, 5, "Champions"), (5, 1, 1, "New"), (4, 1, 1, "Promising"), (4, 4, 4, "Loyal"),
    (5, 2, 3, "Potential loyalist"), (3, 3, 2, "Need attention"), (2, 3, 3, "At risk"),
    (1, 5, 5, "Can't lose"), (2, 1, 2, "Hibernating"), (1, 1, 1, "Lost"), (1, 3, 3, "At risk"),
])
def test_segment_grid(r, f, m, expected):
    assert segment(r, f, m) == expected


def test_every_segment_is_reachable():
    assert {segment(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)} == set(SEGMENTS)


def test_quintiles_split_a_uniform_population_evenly():
    sl = SortedList(range(100))
    scores = [quintile(sl, x) for x in range(100)]
    assert [scores.count(s) for s in range(1, 6)] == [20, 20, 20, 20, 20]
    assert scores == sorted(scores)


@given(st.lists(st.integers(0, 50), min_size=1, max_size=200), st.integers(0, 50))
def test_quintile_matches_a_plain_percentile(values, x):
    below = sum(v < x for v in values)
    equal = sum(v == x for v in values)
    pct = (below + equal / 2) / len(values)
    assert quintile(SortedList(values), x) == min(5, 1 + int(5 * pct + 1e-12))


def test_population_follows_updates():
    pop = RfmPopulation()
    keys = [(i, 1 + i % 3, 100 * i) for i in range(50)]
    for k in keys:
        pop.update(None, k)
    pop.update(keys[0], (1000, 9, 10**6))     # the weakest customer becomes the best
    assert pop.score((1000, 9, 10**6))[:3] == (5, 5, 5)
    assert len(pop) == 50
    fresh = RfmPopulation([(1000, 9, 10**6)] + keys[1:])
    assert all(pop.score(k) == fresh.score(k) for k in keys[1:])


def test_scores_are_relative_to_other_customers():
    book = CustomerBook()
    for i in range(10):
        for j in range(i + 1):
            book.order(make_order(customer_id=f"c{i}", order_id=f"c{i}-{j}", occurred_at=at(j * 60 * 24 * 7)))
    top, bottom = book.snapshot("c9", at(60 * 24 * 80)).rfm, book.snapshot("c0", at(60 * 24 * 80)).rfm
    assert (top.r, top.f, top.m, top.segment) == (5, 5, 5, "Champions")
    assert (bottom.r, bottom.f, bottom.m) == (1, 1, 1) and bottom.segment == "Lost"


P = ScoringParams()
DAY = 86_400_000_000


@pytest.mark.parametrize("days_since,expected", [(5, 0.0), (10, 0.0), (20, 0.5), (30, 0.75)])
def test_churn_follows_the_customers_own_rhythm(days_since, expected):
    last = to_us(T0)
    assert churn_risk(5, 10.0, last, 0.0, T0 + timedelta(days=days_since), P) == pytest.approx(expected)


def test_single_order_uses_the_prior_gap():
    assert churn_risk(1, None, to_us(T0), 0.0, T0 + timedelta(days=60), P) == pytest.approx(0.5)


@given(st.floats(0, 400), st.floats(0, 10), st.floats(0.5, 100))
def test_churn_is_bounded_and_sharpened_by_negatives(days, negatives, gap):
    now = T0 + timedelta(days=days)
    plain = churn_risk(3, gap, to_us(T0), 0.0, now, P)
    sharp = churn_risk(3, gap, to_us(T0), negatives, now, P)
    later = churn_risk(3, gap, to_us(T0), 0.0, now + timedelta(days=1), P)
    assert 0.0 <= plain <= sharp <= 1.0
    assert later >= plain


def test_recent_negative_feedback_raises_churn_in_the_profile():
    book = CustomerBook()
    book.order(make_order())
    calm = book.snapshot("cust-1", at(60 * 24 * 5)).churn_risk
    for _ in range(3):
        book.feedback("cust-1", uuid.uuid4(), at(60 * 24 * 4), -0.9, True, "delivery")
    assert book.snapshot("cust-1", at(60 * 24 * 5)).churn_risk > calm
    assert book.snapshot("cust-1", at(60 * 24 * 5)).negative_share == 1.0


def test_population_matches_a_rebuild_after_random_updates():
    rng = random.Random(7)
    book = CustomerBook()
    for i in range(300):
        book.order(make_order(customer_id=f"c{rng.randrange(40)}", order_id=f"o{rng.randrange(120)}",
                              occurred_at=at(rng.randrange(10**5)), amount=Decimal(rng.choice([10, 20, 99])),
                              status=rng.choice(list(OrderStatus))))
    rebuilt = RfmPopulation(k for p in book.profiles.values() if (k := p.rfm_key()))
    assert list(book.population.recency) == list(rebuilt.recency)
    assert list(book.population.monetary) == list(rebuilt.monetary)
