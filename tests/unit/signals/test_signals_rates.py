"""Complaint rates and negative shares: quiet on a steady stream, one firing for a 5x spike, never on small counts."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from agents.signals import SignalsConfig, SignalsCore
from agents.signals.stats import binomial_sf, poisson_rates_p
from schemas.events import Channel
from tests.unit.signals.factories import T0, make_feedback, make_order

CHANNELS = list(Channel)
REGIONS = ["north", "south", "east", "west"]


def poisson_times(rng: random.Random, rate_per_hour: float, hours: float, start=T0):
    """Arrival times of a Poisson process over `hours` from `start`."""
    t = 0.0
    while True:
        t += rng.expovariate(rate_per_hour)
        if t >= hours:
            return
        yield start + timedelta(hours=t)


def catalogue(core: SignalsCore, skus: int = 60, per_sku: int = 20) -> list[list[str]]:
    """Orders for every SKU (three categories, four regions); order ids by SKU."""
    ids = []
    for s in range(skus):
        mine = []
        for j in range(per_sku):
            oid = f"o-{s}-{j}"
            core.order(make_order(oid, sku=f"SKU-{s}", category=f"cat-{s % 3}", region=REGIONS[j % 4]))
            mine.append(oid)
        ids.append(mine)
    return ids


def stream(rng: random.Random, orders: list[list[str]], hours: float, per_hour: float, negative_share: float,
           start=T0):
    """Steady feedback: each message about a random order, negative with a fixed probability."""
    for at in poisson_times(rng, per_hour, hours, start):
        sku = rng.randrange(len(orders))
        yield make_feedback(at, rng.random() < negative_share, order_id=rng.choice(orders[sku]),
                            channel=rng.choice(CHANNELS))


def test_binomial_tail_matches_the_sum_of_terms():
    import math

    def brute(k, n, p):
        return sum(math.comb(n, x) * p ** x * (1 - p) ** (n - x) for x in range(k, n + 1))

    for k, n, p in [(5, 5, 0.04), (3, 10, 0.5), (7, 10, 0.5), (50, 100, 0.3), (20, 100, 0.3), (0, 4, 0.2), (9, 8, 0.5)]:
        assert binomial_sf(k, n, p) == pytest.approx(brute(k, n, p), rel=1e-9, abs=1e-15)
    assert poisson_rates_p(0, 10, 0.5) == 1.0


def test_a_steady_stream_of_100000_events_fires_nothing():
    rng = random.Random(24)
    core = SignalsCore(SignalsConfig())
    orders = catalogue(core)
    fired = []
    n = 0
    for cf in stream(rng, orders, hours=200, per_hour=500, negative_share=0.3):
        fired += core.feedback(cf)
        n += 1
    assert n > 98_000
    assert fired == []


def test_a_5x_spike_on_one_sku_fires_once():
    rng = random.Random(7)
    core = SignalsCore(SignalsConfig())
    orders = catalogue(core)
    hot = 3
    events = list(stream(rng, orders, hours=48, per_hour=500, negative_share=0.3))
    # SKU-3 is a best seller: ~10 complaints an hour (four times the others' 2.5); for one hour, its
    # complaints run at five times that
    base = 4 * 500 * 0.3 / 60
    events += [make_feedback(at, rng.random() < 0.3, order_id=rng.choice(orders[hot]), channel=rng.choice(CHANNELS))
               for at in poisson_times(rng, 3 * 500 / 60, 48)]
    spike_at = T0 + timedelta(hours=40)
    events += [make_feedback(at, True, order_id=rng.choice(orders[hot]), channel=rng.choice(CHANNELS))
               for at in poisson_times(rng, 4 * base, 1, spike_at)]
    events.sort(key=lambda cf: cf.occurred_at)
    fired = [f for cf in events for f in core.feedback(cf)]
    assert [(f.kind, f.subject) for f in fired] == [("complaint_rate", "sku:SKU-3")]
    f = fired[0]
    assert f.window_start == spike_at
    assert f.evidence["ratio"] >= 3 and f.evidence["p_value"] <= 1e-7 and f.evidence["count"] >= 8
    assert f.sku == "SKU-3" and f.region in REGIONS


def test_a_spike_lasting_several_hours_is_one_episode_and_a_later_one_fires_again():
    core = SignalsCore(SignalsConfig())
    core.order(make_order("o-1", sku="SKU-K"))
    fired = []
    for h in range(30):                       # a baseline of one complaint an hour
        fired += core.feedback(make_feedback(T0 + timedelta(hours=h, minutes=30), True, "o-1"))
    for h in (30, 31, 32, 40):                # a rise for three hours, then quiet, then again
        for m in range(20):
            fired += core.feedback(make_feedback(T0 + timedelta(hours=h, minutes=m), True, "o-1"))
    skus = [f for f in fired if f.subject == "sku:SKU-K"]
    assert [f.window_start for f in skus] == [T0 + timedelta(hours=30), T0 + timedelta(hours=40)]
    assert len({f.incident_key for f in skus}) == 2


@pytest.mark.parametrize("count", [1, 3, 7])
def test_small_counts_never_fire_even_on_a_silent_baseline(count):
    core = SignalsCore(SignalsConfig())
    core.order(make_order("o-1", sku="SKU-Q"))
    core.order(make_order("o-2", sku="SKU-OTHER"))
    fired = []
    for h in range(30):                        # history without a single complaint on SKU-Q
        fired += core.feedback(make_feedback(T0 + timedelta(hours=h), False, "o-2"))
    for m in range(count):
        fired += core.feedback(make_feedback(T0 + timedelta(hours=30, minutes=m), True, "o-1"))
    assert fired == []


def test_nothing_fires_before_a_whole_baseline_was_seen():
    core = SignalsCore(SignalsConfig())
    core.order(make_order("o-1", sku="SKU-K"))
    fired = [f for m in range(50) for f in core.feedback(make_feedback(T0 + timedelta(hours=5, minutes=m), True, "o-1"))]
    assert fired == []


def test_a_complaint_without_a_known_order_counts_for_its_channel_only():
    core = SignalsCore(SignalsConfig())
    fired = []
    for h in range(26):                        # a baseline: 1 negative in 10 on the phone
        for m in range(10):
            fired += core.feedback(make_feedback(T0 + timedelta(hours=h, minutes=m), m == 0, "unknown",
                                                 channel=Channel.phone))
    for m in range(40):                        # then every message negative
        fired += core.feedback(make_feedback(T0 + timedelta(hours=26, minutes=m), True, "unknown",
                                             channel=Channel.phone))
    assert [(f.kind, f.subject) for f in fired] == [("negative_share", "channel:phone")]
    assert fired[0].channel == Channel.phone and fired[0].evidence["baseline_share"] == 0.1


def test_the_same_window_gives_the_same_incident_id_on_two_cores():
    from agents.signals import incident

    def run() -> list:
        core = SignalsCore(SignalsConfig())
        core.order(make_order("o-1", sku="SKU-K"))
        out = []
        for h in range(30):
            out += core.feedback(make_feedback(T0 + timedelta(hours=h, minutes=30), True, "o-1"))
        for m in range(20):
            out += core.feedback(make_feedback(T0 + timedelta(hours=30, minutes=m), True, "o-1"))
        return [incident(f, Channel.web) for f in out if f.subject == "sku:SKU-K"]

    a, b = run(), run()
    assert len(a) == 1 and [i.event_id for i in a] == [i.event_id for i in b]
    assert a[0].incident_key == "signal:complaint_rate:sku:SKU-K@20260302T0600Z"
    assert a[0].category == "market_signal" and a[0].evidence["count"] >= 8


def test_orders_are_forgotten_past_the_horizon_and_beyond_the_cap():
    from agents.signals.orders import OrderBook

    book = OrderBook(timedelta(days=30), max_orders=3)
    for i in range(3):
        book.add(make_order(f"o-{i}", at=T0 + timedelta(days=i)))
    book.add(make_order("o-3", at=T0 + timedelta(days=40)))
    assert book.get("o-0") is None and book.get("o-2") is None and book.get("o-3") is not None
    for i in range(4, 10):
        book.add(make_order(f"o-{i}", at=T0 + timedelta(days=40)))
    assert len(book) == 3
    # a status update without lines keeps what the order said before
    book.add(make_order("o-9", at=T0 + timedelta(days=41), items=(), region=None))
    assert book.get("o-9").skus == ("SKU-1",) and book.get("o-9").region == "north"
