"""Benchmark of the customers / KPI aggregation step: order events per second on one core, memory per profile.

    python bench/bench_customers.py                   # 200k events for speed, 100,000 customers for memory
    python bench/bench_customers.py --customers 1000000

Events are built up front with model_construct (decoding is measured elsewhere: perf-baseline.md);
only the aggregation step is timed. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.customers import CustomerBook, CustomerProfile, RfmPopulation, apply_order  # noqa: E402
from agents.kpis import KpiState, apply_order as kpi_apply_order, load_rates, load_targets  # noqa: E402
from agents.kpis.rollups import changed_rows  # noqa: E402
from schemas.events import Channel, LineItem, OrderEvent, OrderStatus  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
FLUSH_EVENTS = 100
CATEGORIES = ["home", "garden", "kitchen", "toys", "books", "sports"]
CHANNELS = [Channel.web, Channel.app, Channel.store, Channel.phone]
RATES = load_rates()   # the shipped rates: every amount converted, as the worker does
LIFECYCLE = [OrderStatus.created, OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered]


class _Plain:
    """Stand-in with an OrderEvent's attributes: builds ~20x faster, so the 1M-customer memory run is practical."""

    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def order_events(customers: int, orders_per_customer: int, rng: random.Random, make=OrderEvent.model_construct):
    """Lifecycle events (created, paid, shipped, delivered, sometimes refunded) for every order."""
    for c in range(customers):
        cid = f"cust-{c:07d}"
        for o in range(orders_per_customer):
            oid = f"{cid}-o{o}"
            at = T0 + timedelta(days=rng.randrange(365), minutes=rng.randrange(1440))
            amount = Decimal(rng.randrange(500, 50000)) / 100
            items = (make(sku=f"SKU-{rng.randrange(500)}", category=rng.choice(CATEGORIES), quantity=1,
                          unit_price=amount) if make is _Plain else LineItem.model_construct(
                sku=f"SKU-{rng.randrange(500)}", category=rng.choice(CATEGORIES), quantity=1, unit_price=amount),)
            common = dict(channel=rng.choice(CHANNELS), customer_id=cid, order_id=oid, currency="EUR", items=items,
                          region=rng.choice(["north", "south"]), sales_rep_id=f"rep-{rng.randrange(20)}",
                          campaign_id=None, schema_version=1, event_type="order")
            steps = LIFECYCLE + ([OrderStatus.refunded] if rng.random() < 0.05 else [])
            for i, status in enumerate(steps):
                yield make(event_id=uuid.uuid4(), occurred_at=at + timedelta(hours=i),
                                                 status=status, amount=amount / 4 if status is OrderStatus.refunded
                                                 else amount, **common)


def throughput(n_events: int, customers: int, seed: int) -> dict:
    rng = random.Random(seed)
    events = list(order_events(customers, max(1, n_events // customers // 4), rng))
    rng.shuffle(events)                      # arrival order is not the lifecycle order
    out = {"events": len(events), "customers": customers}
    gc.collect()
    profiles: dict[str, CustomerProfile] = {}
    t = time.perf_counter()
    for e in events:
        p = profiles.get(e.customer_id)
        if p is None:
            p = profiles[e.customer_id] = CustomerProfile(e.customer_id)
        apply_order(p, e, RATES)
    out["profile_updates_per_s"] = round(len(events) / (time.perf_counter() - t))
    book = CustomerBook()
    t = time.perf_counter()
    for e in events:
        book.order(e)
    out["profile_plus_rfm_population_per_s"] = round(len(events) / (time.perf_counter() - t))
    rep_team = load_targets(reporting_currency=RATES.reporting_currency).rep_team
    state = KpiState(RATES, rep_team)
    t = time.perf_counter()
    for e in events:
        kpi_apply_order(state, e)
    out["kpi_updates_per_s"] = round(len(events) / (time.perf_counter() - t))
    # the KPI agent as the worker runs it: the fold, plus the changed cells' and facts' rows of each
    # writer flush (FLUSH_EVENTS events per flush, about 20 ms of a busy worker), in CPU time
    state = KpiState(RATES, rep_team)
    rows = 0
    t = time.process_time()
    for i, e in enumerate(events):
        kpi_apply_order(state, e)
        if i % FLUSH_EVENTS == FLUSH_EVENTS - 1:
            cells, facts = changed_rows(state, 0, i)
            rows += len(cells) + len(facts)
    out["kpi_agent_cpu_us_per_order_event"] = round((time.process_time() - t) / len(events) * 1e6, 1)
    out["kpi_rows_per_order_event"] = round(rows / len(events), 2)
    t = time.perf_counter()
    snaps = [book.snapshot(cid, T0 + timedelta(days=400)) for cid in list(book.profiles)[:5000]]
    out["snapshots_per_s"] = round(len(snaps) / (time.perf_counter() - t))
    return out


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(customers: int, orders_per_customer: int, seed: int) -> dict:
    """Profiles built from events (RSS delta as a cross-check), then rebuilt from their stored form under
    tracemalloc: tracing the whole event run costs ~10x in time and measures the same objects."""
    rng = random.Random(seed)
    gc.collect()
    rss0 = _rss()
    profiles: dict[str, CustomerProfile] = {}
    for e in order_events(customers, orders_per_customer, rng, make=_Plain):
        p = profiles.get(e.customer_id)
        if p is None:
            p = profiles[e.customer_id] = CustomerProfile(e.customer_id)
        apply_order(p, e, RATES)
    gc.collect()
    rss_delta = _rss() - rss0
    stored = [p.to_dict() for p in profiles.values()]
    json_bytes = sum(len(json.dumps(d, separators=(",", ":"))) for d in stored[:10_000]) / min(len(stored), 10_000)
    del profiles
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rebuilt = {}
    for d in stored:
        p = CustomerProfile.from_dict(d)
        p.customer_id = (d["id"] + ".")[:-1]   # its own id string, as with events (the stored dicts predate tracing)
        rebuilt[p.customer_id] = p
    gc.collect()
    with_profiles = tracemalloc.get_traced_memory()[0]
    population = RfmPopulation(k for p in rebuilt.values() if (k := p.rfm_key()) is not None)
    gc.collect()
    with_population = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del population, rebuilt
    return {
        "customers": customers, "orders_per_customer": orders_per_customer,
        "bytes_per_profile": round((with_profiles - base) / customers),   # incl. the table's dict slot and key
        "bytes_per_customer_in_rfm_population": round((with_population - with_profiles) / customers),
        "rss_bytes_per_profile_while_building": round(rss_delta / customers),  # allocator slack and garbage included
        "stored_json_bytes_per_profile": round(json_bytes),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="order events for the throughput run")
    ap.add_argument("--throughput-customers", type=int, default=20_000)
    ap.add_argument("--customers", type=int, default=100_000, help="customers for the memory run (try 1000000)")
    ap.add_argument("--orders-per-customer", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    result = {
        "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
        "throughput": throughput(args.events, args.throughput_customers, args.seed),
        "memory": memory(args.customers, args.orders_per_customer, args.seed),
        "targets": {"order_events_per_s": 10_000, "bytes_per_profile": 1024},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
