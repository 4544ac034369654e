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


# ---- output records: acks wait for their delivery ------------------------------------------

def _output_writer(engine, resent: list, resend_fails: bool = False):
    metrics = Metrics(CollectorRegistry())
    w = BatchWriter(engine, metrics, retry_max_s=0.2)
    w.register(ReceivedEvent.__table__, conflict=["event_id"])

    async def resend(record):
        if resend_fails:
            raise RuntimeError("producer stopped")
        resent.append(record)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    w.delivery.resend = resend
    return w, metrics


async def test_acks_wait_until_output_records_are_delivered(engine):
    await upgrade(engine)
    w, _ = _output_writer(engine, [])
    acked: list[int] = []
    delivery = asyncio.get_running_loop().create_future()
    w.add(ReceivedEvent.__table__, row(1))
    w.delivery.track(delivery, ("t.feedback.classified", b"c1", b"{}"))
    w.ack_after(lambda: acked.append(1))
    task = asyncio.create_task(w.flush())
    await asyncio.sleep(0.3)
    assert await count(engine) == 1 and acked == [] and not task.done()  # written, not acked
    delivery.set_result(None)
    await asyncio.wait_for(task, 5)
    assert acked == [1]


async def test_a_failed_output_is_resent_before_the_ack(engine):
    from aiokafka.errors import KafkaTimeoutError  # aiokafka marks it not retriable; we resend

    await upgrade(engine)
    resent: list = []
    w, metrics = _output_writer(engine, resent)
    acked: list[int] = []
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(KafkaTimeoutError())
    w.delivery.track(failed, ("t.incidents.raw", b"k", b"{}"))
    w.ack_after(lambda: acked.append(1))
    await asyncio.wait_for(w.flush(), 5)
    assert resent == [("t.incidents.raw", b"k", b"{}")] and acked == [1]
    assert metrics.registry.get_sample_value("salespulse_output_delivery_failures_total", {"outcome": "resent"}) == 1


async def test_a_record_over_the_size_limit_is_given_up_and_a_stopped_producer_leaves_events_unacked(engine):
    from aiokafka.errors import MessageSizeTooLargeError

    await upgrade(engine)
    w, metrics = _output_writer(engine, [])
    acked: list[int] = []
    too_big = asyncio.get_running_loop().create_future()
    too_big.set_exception(MessageSizeTooLargeError())
    w.delivery.track(too_big, ("t.x", None, b"x" * 10))
    w.ack_after(lambda: acked.append(1))
    await asyncio.wait_for(w.flush(), 5)
    assert acked == [1]  # resending cannot help: counted, logged, the stream goes on
    assert metrics.registry.get_sample_value("salespulse_output_delivery_failures_total", {"outcome": "given_up"}) == 1

    w2, _ = _output_writer(engine, [], resend_fails=True)
    lost = asyncio.get_running_loop().create_future()
    lost.cancel()
    w2.delivery.track(lost, ("t.x", None, b"{}"))
    w2.ack_after(lambda: acked.append(2))
    await asyncio.wait_for(w2.flush(), 5)
    assert acked == [1]  # not acked: redelivered after the restart, never acked without its output


async def test_a_flush_longer_than_the_interval_is_followed_at_once_and_an_idle_writer_waits(engine):
    """The interval counts from a flush's start: after a flush that took longer, the events that
    arrived meanwhile are written at once (they waited a whole flush already), not one interval
    later; with nothing pending the loop still sleeps an interval between looks."""
    await upgrade(engine)
    w = BatchWriter(engine, Metrics(CollectorRegistry()), interval_s=0.5)
    w.register(ReceivedEvent.__table__, conflict=["event_id"])
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def slow_hook() -> None:
        starts.append(loop.time())
        await asyncio.sleep(0.6)

    w.before_flush(slow_hook)
    looks = 0
    flush = w.flush

    async def counted() -> None:
        nonlocal looks
        looks += 1
        await flush()

    w.flush = counted
    runner = asyncio.create_task(w.run())
    try:
        await asyncio.sleep(1.2)  # idle: one look per interval, not a spin
        assert 1 <= looks <= 4 and starts == []
        for i in range(3):  # each arrives while the previous flush is still in its hook
            w.add(ReceivedEvent.__table__, row(i))
            w.ack_after(lambda: None)
            async with asyncio.timeout(10):
                while len(starts) <= i:
                    await asyncio.sleep(0.01)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        # from the end of the previous flush (0.6 s hook + write) plus an interval would be >= 1.1 s
        assert all(0.55 <= g < 0.95 for g in gaps), gaps
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        w.close()
    assert await count(engine) == 3


async def test_drain_first_awaits_work_whose_acks_are_not_registered_yet(engine):
    """A before-drain hook (the classifier's process: events whose ack waits for their
    classification) finishes that work, which adds rows and registers acks; the drain writes them."""
    await upgrade(engine)
    w = BatchWriter(engine, Metrics(CollectorRegistry()))
    w.register(ReceivedEvent.__table__, conflict=["event_id"])
    acked: list[int] = []

    async def finish_late_work() -> None:
        await asyncio.sleep(0.05)
        for i in range(3):
            w.add(ReceivedEvent.__table__, row(i))
            w.ack_after(lambda i=i: acked.append(i))

    w.before_drain(finish_late_work)
    await w.drain(timeout=5)  # nothing was pending when it started
    assert acked == [0, 1, 2] and await count(engine) == 3



async def test_drain_waits_for_the_flush_in_progress(engine):
    """The run loop's flush has written its rows and waits for an output record's delivery; it
    has taken every row, ack and output out of the pending lists. A drain started then (a
    shutdown, a revoke) returns only once those acks are done, so the consumer's commit that
    follows covers every row written."""
    await upgrade(engine)
    w = BatchWriter(engine, Metrics(CollectorRegistry()))
    w.register(ReceivedEvent.__table__, conflict=["event_id"])
    acked: list[int] = []
    for i in range(5):
        w.add(ReceivedEvent.__table__, row(i))
        w.ack_after(lambda i=i: acked.append(i))
    delivery = asyncio.get_running_loop().create_future()
    w.delivery.track(delivery, ("alerts", b"k", b"v"))
    in_progress = asyncio.create_task(w.flush())
    while await count(engine) < 5:  # written, now waiting for the delivery
        await asyncio.sleep(0.01)
    assert w.pending == 0 and acked == []
    drain = asyncio.create_task(w.drain(timeout=5))
    await asyncio.sleep(0.1)
    assert not drain.done()
    delivery.set_result(None)
    await drain
    assert acked == [0, 1, 2, 3, 4]
    await in_progress


async def test_rows_the_database_refuses_are_isolated_and_their_events_dead_lettered(engine):
    """A value the database (or the conversion before it) refuses is the row's fault, not an outage:
    the batch is bisected, every other row is written in the same flush, the refused events go to
    `on_refused` (whose dead-letter rows are written before the acks), and nothing is retried."""
    from pipeline.db.models import DeadLetterRow

    await upgrade(engine)
    metrics = Metrics(CollectorRegistry())
    w = BatchWriter(engine, metrics, retry_max_s=0.2)
    events, dead = ReceivedEvent.__table__, DeadLetterRow.__table__
    w.register(events, conflict=["event_id"])
    w.register(dead, conflict=["source_topic", "source_partition", "source_offset"])
    refused: list[tuple[str, str]] = []

    async def on_refused(source, detail: str) -> None:
        refused.append((source, detail))
        w.add(dead, {"reason": "storage_error", "detail": detail, "source_topic": "orders", "source_partition": 0,
                     "source_offset": int(source.removeprefix("event-")), "value": b"{}", "received_at": NOW})

    w.on_refused = on_refused
    acked: list[int] = []
    bad = {3: {"occurred_at": NOW.replace(tzinfo=None)},  # naive: refused by the column's conversion
           11: {"offset": 2**70}}                          # beyond any integer column: refused by the driver
    for i in range(20):
        w.add(events, {**row(i), **bad.get(i, {})}, source=f"event-{i}")
        w.ack_after(lambda i=i: acked.append(i))
    w.add(events, {**row(99), "offset": 2**70})  # a row without a source event: dropped, counted
    await asyncio.wait_for(w.flush(), timeout=30)

    assert sorted(acked) == list(range(20)) and w.healthy
    assert sorted(s for s, _ in refused) == ["event-11", "event-3"]
    assert all(detail.startswith("events: ") for _, detail in refused)
    assert await count(engine) == 18
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT source_offset, reason FROM dead_letters ORDER BY 1"))).all()
    assert [tuple(r) for r in stored] == [(3, "storage_error"), (11, "storage_error")]
    assert metrics.registry.get_sample_value("salespulse_db_rows_refused_total", {"table": "events"}) == 3
    assert not metrics.registry.get_sample_value("salespulse_db_write_errors_total", {"table": "events"})
