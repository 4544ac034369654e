"""salespulse_customer_segment_customers: every profile of the worker counted once under its RFM
segment, scored in parts (the event loop is served between them)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from prometheus_client import CollectorRegistry

from agents import build_worker
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from tests.support.factories import at, make_order


async def test_segment_gauges_count_every_profile_once_and_yield_between_parts(tmp_path, db_url):
    settings = Settings(database={"url": db_url}, worker={"data_dir": str(tmp_path / "d"), "app_id": "seg"})
    registry = CollectorRegistry()
    worker = build_worker(settings, Metrics(registry))
    rt, customers = worker.rt, worker.customers
    meta = type("M", (), {"partition": 0})()
    for i in range(23):
        for n in range(i % 4 + 1):
            await customers.on_order(make_order(customer_id=f"c{i}", order_id=f"c{i}-{n}", occurred_at=at(i + n),
                                                amount=Decimal(5 * (i + 1))), meta)
    customers.GAUGE_PART = 5
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.ensure_future(count_turns())
    await customers.update_gauges()
    counter.cancel()
    assert turns >= 4, "the event loop was not served between parts"
    by_segment = {s.labels["segment"]: s.value for m in registry.collect() if m.name == "salespulse_customers"
                  for s in m.samples}
    expected: dict[str, int] = {}
    for p in customers.book.profiles.values():
        rfm = customers.book.population.score(p.rfm_key())
        expected[rfm.segment] = expected.get(rfm.segment, 0) + 1
    assert by_segment == expected and sum(by_segment.values()) == 23
    assert registry.get_sample_value("salespulse_table_keys", {"table": "customers"}) == 23
    await rt.engine.dispose()
