"""BatchWriter over a real database: idempotent upserts, acks only after the write, retries."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.db.models import Base, ReceivedEvent
from pipeline.db.writer import BatchWriter
from pipeline.metrics import Metrics
from pipeline.settings import DatabaseSettings

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def row(i: int) -> dict:
    return {"event_id": f"00000000-0000-0000-0000-{i:012d}", "event_type": "order", "customer_id": f"c{i}",
            "channel": "web", "occurred_at": NOW, "received_at": NOW, "topic": "orders", "partition": 0,
            "offset": i, "payload": "{}"}


@pytest.fixture
async def engine(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    yield engine
    await engine.dispose()


async def count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()


async def test_upsert_is_idempotent_and_acks_after_write(engine):
    await upgrade(engine)
    metrics = Metrics(CollectorRegistry())
    w = BatchWriter(engine, metrics, max_rows=10)
    w.register(ReceivedEvent.__table__, conflict=["event_id"])
    acked: list[int] = []
    for i in list(range(25)) + list(range(10)):
        w.add(ReceivedEvent.__table__, row(i))
        w.ack_after(lambda i=i: acked.append(i))
    assert acked == []  # nothing acked before the write
    await w.flush()
    assert len(acked) == 35 and await count(engine) == 25
    assert metrics.registry.get_sample_value("salespulse_db_up") == 1.0


async def test_outage_is_retried_not_dropped(engine):
    """The table is missing at first (the database refuses); the batch is retried until it exists."""
    metrics = Metrics(CollectorRegistry())
    w = BatchWriter(engine, metrics, retry_max_s=0.2)
    w.register(ReceivedEvent.__table__, conflict=["event_id"])
    acked: list[int] = []
    for i in range(5):
        w.add(ReceivedEvent.__table__, row(i))
        w.ack_after(lambda i=i: acked.append(i))
    task = asyncio.create_task(w.flush())
    await asyncio.sleep(0.5)
    assert not task.done() and acked == [] and not w.healthy
    assert metrics.registry.get_sample_value("salespulse_db_write_errors_total", {"table": "events"}) >= 1
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await asyncio.wait_for(task, timeout=10)
    assert sorted(acked) == list(range(5)) and w.healthy and await count(engine) == 5


async def test_back_pressure_when_too_much_is_pending(engine):
    await upgrade(engine)
    w = BatchWriter(engine, Metrics(CollectorRegistry()), max_pending=3)
    w.register(ReceivedEvent.__table__, conflict=["event_id"])
    for i in range(3):
        w.add(ReceivedEvent.__table__, row(i))
        w.ack_after(lambda: None)
    waiter = asyncio.create_task(w.wait_room())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await w.flush()
    await asyncio.wait_for(waiter, timeout=2)


async def test_migrations_match_models(engine):
    """Every model change comes with a migration: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    await upgrade(engine)

    def _diff(conn):
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)

    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []
