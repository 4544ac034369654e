"""BatchWriter's SQLite executemany path stores what SQLAlchemy's path stores; before-flush hooks
write in the same transaction as the events they follow, and those events are acked after it."""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.db.models import CustomerProfileRow, DeadLetterRow, ReceivedEvent
from pipeline.db.sqlite_child import writers_lock
from pipeline.db.writer import BatchWriter
from pipeline.metrics import Metrics
from pipeline.settings import DatabaseSettings

PROFILES = CustomerProfileRow.__table__
DEAD = DeadLetterRow.__table__
EVENTS = ReceivedEvent.__table__
AT = datetime(2026, 11, 2, 9, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))


def profile(**overrides) -> dict:
    row = {"customer_id": "c1", "partition": 2, "orders_count": 3, "total_spend": Decimal("12.3400"),
           "refunds": Decimal("0"), "average_order_value": None, "first_order_at": AT, "last_order_at": AT,
           "segment": "Champions", "churn_risk": 0.25, "updated_at": AT,
           "snapshot": {"rfm": {"segment": "Champions"}, "spend": ["1.00"], "none": None}, "state": {"1": [2, 3]}}
    return row | overrides


async def _stored(tmp_path, name: str, fast: bool):
    engine = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/{name}.db"))
    try:
        await upgrade(engine)
        w = BatchWriter(engine, Metrics(CollectorRegistry()))
        assert w._sqlite
        w._sqlite = fast  # the SQLAlchemy path is what PostgreSQL uses
        w.register(PROFILES, conflict=["customer_id"], update=[c.name for c in PROFILES.columns if c.name != "customer_id"])
        w.register(DEAD, conflict=["source_topic", "source_partition", "source_offset"])
        w.add(PROFILES, profile())
        w.add(PROFILES, profile(orders_count=4))  # same key in one batch: the last wins
        w.add(PROFILES, profile(customer_id="c2", snapshot=None))  # JSON null, as SQLAlchemy binds None
        w.add(DEAD, {"reason": "invalid_json", "detail": "d", "source_topic": "t", "source_partition": 0,
                     "source_offset": 1, "value": b"\x00\xff", "received_at": AT})
        w.ack_after(lambda: None)
        await w.flush()
        w.add(PROFILES, profile(segment="At risk"))  # an update of the stored row
        w.ack_after(lambda: None)
        await w.flush()
        async with engine.connect() as conn:
            return ((await conn.execute(select(PROFILES).order_by(PROFILES.c.customer_id))).all(),
                    (await conn.execute(select(DEAD))).all())
    finally:
        await engine.dispose()


async def test_fast_path_stores_what_sqlalchemy_stores(tmp_path):
    fast, sqla = await _stored(tmp_path, "fast", True), await _stored(tmp_path, "sqla", False)
    assert fast == sqla
    (row, null_snapshot), _ = fast
    assert null_snapshot.snapshot is None
    assert row.orders_count == 3 and row.segment == "At risk" and row.first_order_at == AT
    assert row.snapshot["rfm"] == {"segment": "Champions"} and row.state == {"1": [2, 3]}


async def test_hook_rows_share_the_flush_and_acks_follow_it(tmp_path):
    engine = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/hook.db"))
    try:
        await upgrade(engine)
        w = BatchWriter(engine, Metrics(CollectorRegistry()))
        w.register(PROFILES, conflict=["customer_id"], update=["orders_count"])
        changed: list[str] = []

        async def hook() -> None:
            while changed:
                w.add(PROFILES, profile(customer_id=changed.pop()))

        async def stored() -> int:
            async with engine.connect() as conn:
                return len((await conn.execute(select(PROFILES.c.customer_id))).all())

        w.before_flush(hook)
        changed += ["a", "b"]
        acks: list[int] = []  # profile rows committed when the event was acked

        def ack() -> None:
            with sqlite3.connect(tmp_path / "hook.db") as conn:
                acks.append(conn.execute("SELECT count(*) FROM customer_profiles").fetchone()[0])

        w.ack_after(ack)
        await w.flush()
        assert acks == [2] and await stored() == 2
        await w.flush()  # nothing pending: the hook does not run without events
        assert acks == [2]
    finally:
        await engine.dispose()


async def test_a_flush_waits_for_another_writers_lock_without_holding_the_loop(tmp_path):
    """The writer's own connection writes in its thread; when another connection holds the write
    lock (a second worker on the file, the CLI), the flush waits for it there: the loop keeps
    running, nothing is acked before the rows are in, and they are in once the lock is released."""
    import asyncio

    db = tmp_path / "locked.db"
    engine = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{db}"))
    other = None
    try:
        await upgrade(engine)
        w = BatchWriter(engine, Metrics(CollectorRegistry()))
        assert w._direct is not None and w._direct.path == str(db)
        w.register(EVENTS, conflict=["event_id"])
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        acked: list[int] = []
        w.add(EVENTS, {"event_id": "e1", "event_type": "order", "customer_id": "c1", "channel": "web",
                       "occurred_at": AT, "received_at": AT, "topic": "orders", "partition": 0, "offset": 1,
                       "payload": "{}"})
        w.ack_after(lambda: acked.append(1))
        flush = asyncio.create_task(w.flush())
        ticks = 0
        for _ in range(20):  # the loop runs while the flush waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not flush.done() and acked == []
        other.execute("COMMIT")
        await asyncio.wait_for(flush, timeout=10)
        assert acked == [1]
        assert sqlite3.connect(db).execute("SELECT event_id FROM events").fetchall() == [("e1",)]
        w.close()
    finally:
        if other is not None:
            other.close()
        await engine.dispose()


async def test_writer_processes_of_one_file_take_turns_on_the_writers_lock(tmp_path):
    """Two workers on one SQLite file: a writer process takes the flock beside the database for
    its transaction, so it waits while another holds it (and is handed the lock by the kernel
    at release, not by SQLite's sleeping retries)."""
    import asyncio
    import fcntl
    import os

    db = tmp_path / "shared.db"
    async with events_writer(db) as w:
        lock = writers_lock(str(db))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker's writer in its transaction
            acked: list[int] = []
            w.add(EVENTS, _event(1))
            w.ack_after(lambda: acked.append(1))
            flush = asyncio.create_task(w.flush())
            await asyncio.sleep(0.3)
            assert not flush.done() and acked == [], "the flush wrote while another writer held the lock"
            fcntl.flock(lock, fcntl.LOCK_UN)
            await asyncio.wait_for(flush, timeout=10)
            assert acked == [1]
            assert sqlite3.connect(db).execute("SELECT event_id FROM events").fetchall() == [("e1",)]
            w.close()
        finally:
            os.close(lock)


def test_an_in_memory_database_keeps_the_engine_connection():
    engine = make_engine(DatabaseSettings(url="sqlite+aiosqlite:///:memory:"))
    assert BatchWriter(engine, Metrics(CollectorRegistry()))._direct is None


def _event(i: int) -> dict:
    return {"event_id": f"e{i}", "event_type": "order", "customer_id": "c1", "channel": "web",
            "occurred_at": AT, "received_at": AT, "topic": "orders", "partition": 0, "offset": i, "payload": "{}"}


@asynccontextmanager
async def events_writer(db, metrics: Metrics | None = None):
    """A BatchWriter of the events table on a migrated SQLite file."""
    engine = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{db}"))
    try:
        await upgrade(engine)
        w = BatchWriter(engine, metrics or Metrics(CollectorRegistry()))
        w.register(EVENTS, conflict=["event_id"])
        yield w
    finally:
        await engine.dispose()


async def test_the_writer_process_killed_mid_write_is_replaced_and_the_flush_retried(tmp_path):
    """SQLite flushes run in a process of the writer's own: killed while it waits for a lock (the
    OOM killer, an operator), the flush fails once, is retried in a new process, and its events
    are acked only after their rows are in."""
    import asyncio
    import os
    import signal

    db = tmp_path / "killed.db"
    metrics = Metrics(CollectorRegistry())
    async with events_writer(db, metrics) as w:
        w.add(EVENTS, _event(1))
        w.ack_after(lambda: None)
        await w.flush()
        first = w._direct.proc
        assert first is not None and first.poll() is None
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the next write waits in the process
            acked: list[int] = []
            w.add(EVENTS, _event(2))
            w.ack_after(lambda: acked.append(sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]))
            flush = asyncio.create_task(w.flush())
            await asyncio.sleep(0.3)
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.sleep(0.3)
            assert not flush.done() and acked == []
            other.execute("COMMIT")
        finally:
            other.close()
        await asyncio.wait_for(flush, timeout=10)
        assert acked == [2]
        assert metrics.db_errors.labels("events")._value.get() == 1
        assert w._direct.proc is not None and w._direct.proc.pid != first.pid
        w.close()
        assert w._direct.proc is None


async def test_the_writer_process_ignores_ctrl_c_and_ends_with_the_writer(tmp_path):
    """A Ctrl-C reaches the terminal's whole process group: the worker decides when writing stops
    (its shutdown still flushes); closing the writer ends the process."""
    import os
    import signal

    db = tmp_path / "sigint.db"
    async with events_writer(db) as w:
        w.add(EVENTS, _event(1))
        w.ack_after(lambda: None)
        await w.flush()
        proc = w._direct.proc
        os.kill(proc.pid, signal.SIGINT)
        os.kill(proc.pid, signal.SIGTERM)
        w.add(EVENTS, _event(2))
        w.ack_after(lambda: None)
        await w.flush()
        assert w._direct.proc is proc and proc.poll() is None
        assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 2
        w.close()
        assert proc.wait(timeout=5) == 0


async def test_a_plan_larger_than_the_pipe_goes_in_parts_and_a_cancelled_flush_still_completes(tmp_path):
    """The loop writes the plan to the writer process's non-blocking pipe as far as it takes it
    (here 6 MiB, past any pipe size) and reads the answer when it comes; a caller cancelled
    meanwhile leaves the exchange to finish, and the next one waits for it, so the process never
    answers the wrong plan."""
    import asyncio

    db = tmp_path / "big.db"
    async with events_writer(db) as w:
        big = "x" * (1 << 20)
        for i in range(6):
            w.add(EVENTS, {**_event(i), "payload": f'"{big}{i}"'})
        w.ack_after(lambda: None)
        await w.flush()
        rows = sqlite3.connect(db).execute("SELECT event_id, length(payload) FROM events ORDER BY event_id").fetchall()
        assert rows == [(f"e{i}", (1 << 20) + 3) for i in range(6)]

        plan = w._upserts["events"].batches([{**_event(10), "payload": f'"{big}"'}])
        first = asyncio.create_task(w._direct.run([plan]))
        await asyncio.sleep(0)  # the exchange has started
        first.cancel()
        second = await w._direct.run([w._upserts["events"].batches([_event(11)])])
        assert len(second) == 1  # the answer to its own one-table plan
        ids = {r[0] for r in sqlite3.connect(db).execute("SELECT event_id FROM events")}
        assert {"e10", "e11"} <= ids  # the cancelled caller's plan was written too
        w.close()


def test_json_columns_are_read_as_the_standard_library_reads_them():
    import json
    import math

    from pipeline.db.engine import json_loads

    for text in ('{"rfm": {"segment": "Champions"}, "spend": ["1.00"], "none": null, "n": -3, "x": 0.25}',
                 '[1, "\\u00e9\\u4e2d", {"": []}]', '"text"', "null"):
        assert json_loads(text) == json.loads(text)
        assert json_loads(text.encode()) == json.loads(text)
    assert math.isnan(json_loads('{"a": NaN}')["a"])  # orjson refuses NaN: the standard library reads it


async def _flush_4kb_rows(w: BatchWriter, first: int, n: int) -> None:
    """One flush of `n` events rows with 4 KB payloads, ids from `first`."""
    for i in range(n):
        w.add(EVENTS, _event(first + i) | {"payload": "x" * 4000})
    w.ack_after(lambda: None)
    await w.flush()


async def test_the_writer_process_checkpoints_in_its_own_thread_not_in_its_commits(tmp_path):
    """The writing connection's commits never copy the WAL into the database (SQLite's automatic
    checkpoint did, and synced both files, in one flush a second); a thread of the writer process
    does, every interval, so the database file takes the rows while the flushes go on."""
    import asyncio

    async def written(db, checkpoint_s: float) -> int:
        async with events_writer(db) as w:
            w._direct.checkpoint_s = checkpoint_s
            base = db.stat().st_size
            for batch in range(6):  # ~6 MB: well past SQLite's automatic checkpoint at 1,000 pages
                await _flush_4kb_rows(w, batch * 1000, 250)
            grown = 0
            for _ in range(40):
                grown = db.stat().st_size - base
                if grown > 5_000_000:
                    break
                await asyncio.sleep(0.05)
            assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 1500
            w.close()
            return grown

    assert await written(tmp_path / "hourly.db", checkpoint_s=3600) < 1_000_000, "a commit checkpointed"
    assert await written(tmp_path / "often.db", checkpoint_s=0.05) > 5_000_000, "no background checkpoint"


async def test_the_wal_starts_over_under_a_steady_stream_of_flushes(tmp_path):
    """Flushes back to back, with a checkpoint every 50 ms: the passive checkpoints alone never
    caught up with the writer, so SQLite never wrote the WAL from its start again (740 MB of WAL
    after a 30,000-event drain); past `restart_pages` the checkpoint thread restarts it between two
    transactions, so the WAL stays a few restarts' worth of pages while ~80 MB go through it (the
    old process: all of it)."""
    db = tmp_path / "steady.db"
    wal = tmp_path / "steady.db-wal"
    async with events_writer(db) as w:
        w._direct.checkpoint_s = 0.05
        w._direct.restart_pages = 500  # 2 MB of 4 KB pages
        largest = 0
        for batch in range(600):  # 600 flushes of 20 rows of 4 KB: ~80 MB of WAL pages
            await _flush_4kb_rows(w, batch * 100, 20)
            if wal.exists():
                largest = max(largest, wal.stat().st_size)
        assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 12000
        w.close()
    # a few restarts' worth, with room for a checkpoint thread starved on a loaded 2-core machine
    # (20.9 MB once, beside the classifier's tests); without the restarts it is all ~80 MB
    assert largest < 40_000_000, f"the WAL grew to {largest / 1e6:.1f} MB"


def test_every_column_has_a_conversion_the_writer_process_applies_as_sqlalchemy_would():
    """The writer process makes the parameter tuples (`sqlite_child.parameters`) from each column's
    conversion name: every column of every table has one (a new type without one fails here, not
    in a flush), and each gives what SQLAlchemy's own bind processor on SQLite gives."""
    import pytest
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from pipeline.db.models import Base
    from pipeline.db.sqlite_child import CONVERT
    from pipeline.db.writer import SqliteUpserts, _Spec

    dialect = sqlite_dialect.dialect()
    samples = {"float": [Decimal("12.3400"), 0.25, 3, None], "bool": [True, False, None]}
    kinds = set()
    for table in Base.metadata.sorted_tables:
        upserts = SqliteUpserts(_Spec(table, (), ()), dialect)
        for column in table.columns:
            kind = upserts._kind(column.name)
            kinds.add(kind)
            processor = column.type._cached_bind_processor(dialect)
            for value in samples.get(kind, ()):
                assert CONVERT[kind](value) == processor(value), (table.name, column.name, value)
    assert kinds == {None, "utc", "json", "blob", "float", "bool"}
    with pytest.raises(TypeError):
        CONVERT["bool"]("yes")  # SQLAlchemy's Boolean is strict too


async def test_a_flush_writes_its_rows_as_they_were_when_it_started_writing(tmp_path):
    """The rows go to the writer process as dicts, which may hold an agent's live objects (a
    profile's state); they are pickled before the flush first waits, so what an agent changes
    after that belongs to the next flush, with the events that changed it."""
    import asyncio
    import json

    db = tmp_path / "live.db"
    engine = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{db}"))
    try:
        await upgrade(engine)
        w = BatchWriter(engine, Metrics(CollectorRegistry()))
        w.register(PROFILES, conflict=["customer_id"], update=[c.name for c in PROFILES.columns if c.name != "customer_id"])
        live = {"orders": [1, 2]}
        w.add(PROFILES, profile(state=live))
        w.ack_after(lambda: None)
        flush = asyncio.create_task(w.flush())
        await asyncio.sleep(0)  # the flush runs until it waits for the writer process
        live["orders"].append(3)  # an agent goes on meanwhile
        await flush
        stored = sqlite3.connect(db).execute("SELECT state FROM customer_profiles").fetchone()[0]
        assert json.loads(stored) == {"orders": [1, 2]}
        w.close()
    finally:
        await engine.dispose()
