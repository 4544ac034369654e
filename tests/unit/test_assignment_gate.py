"""No event is processed between a rebalance and the end of loading the new assignment's state
(Runtime.state_ready): faust resumes its streams while on_partitions_assigned receivers still run,
and an event applied to a profile before SQL's copy is loaded was lost from it (kill test)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from faust.types import TP
from prometheus_client import CollectorRegistry

from pipeline import topics as T
from agents import build_worker
from pipeline.db.migrate import upgrade
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from tests.support.factories import at, make_order


def _runtime(tmp_path, db_url):
    settings = Settings(database={"url": db_url}, worker={"data_dir": str(tmp_path / "data"), "app_id": "gate"},
                        topic_prefix="g.")
    return build_worker(settings, Metrics(CollectorRegistry()))


def _order(customer: str, n: int):
    return make_order(customer_id=customer, order_id=f"o{n}", occurred_at=at(n), amount=Decimal(10 * n))


async def test_admit_waits_for_every_loader_and_a_failing_load_is_retried(tmp_path, db_url):
    worker = _runtime(tmp_path, db_url)
    rt = worker.rt
    await upgrade(rt.engine)
    calls, release = [], asyncio.Event()

    async def loader(assigned) -> None:
        calls.append(set(assigned))
        if len(calls) < 3:
            raise ConnectionError("database away")
        await release.wait()

    rt.on_assigned(loader)
    tps = {TP(rt.topic_name(T.ORDERS), 0), TP(rt.topic_name(T.INCIDENTS_RAW), 0)}
    assert not rt.state_ready.is_set()  # nothing before the first assignment is loaded
    assigning = asyncio.ensure_future(rt.app.on_partitions_assigned.send(tps))
    admitted = asyncio.ensure_future(rt.admit())
    await asyncio.sleep(0.6)  # two failures retried after 0.1 s and 0.2 s
    assert len(calls) == 3 and calls[-1] == tps
    assert not admitted.done(), "an event was admitted while state was loading"
    release.set()
    await asyncio.wait_for(asyncio.gather(assigning, admitted), 5)

    await rt.app.on_partitions_revoked.send(tps)
    assert not rt.state_ready.is_set(), "events admitted between a revoke and the next assignment"
    await rt.engine.dispose()


async def test_profiles_of_a_new_partition_come_from_sql_before_any_event(tmp_path, db_url):
    """Worker A wrote customer c1's profile; the partition moves to worker B, whose first event for
    c1 must be applied on top of A's state, not to a fresh profile."""
    wa = _runtime(tmp_path / "a", db_url)
    a = wa.rt
    await upgrade(a.engine)
    tp = TP(a.topic_name(T.ORDERS), 0)
    await a.app.on_partitions_assigned.send({tp})
    customers = wa.customers
    meta = type("M", (), {"partition": 0})()
    await customers.on_order(_order("c1", 1), meta)
    acked = []
    a.writer.ack_after(lambda: acked.append(1))  # as the ingest agent does after the handlers
    await a.writer.flush()
    assert acked == [1]

    wb = _runtime(tmp_path / "b", db_url)
    b = wb.rt

    async def next_event() -> None:  # as the ingest agent: admitted, then the handlers
        await b.admit()
        await wb.customers.on_order(_order("c1", 2), meta)

    # the event arrives while the assignment is being loaded (faust resumes streams meanwhile)
    await asyncio.gather(b.app.on_partitions_assigned.send({tp}), next_event())
    p = wb.customers.book.profiles["c1"]
    assert p.orders_count == 2, "worker A's order was lost"
    assert wb.customers.book.snapshot("c1", at(10)).total_spend == Decimal("33.00")  # 30 EUR, in USD at 1.10
    for rt in (a, b):
        await rt.engine.dispose()


async def test_a_revoke_writes_and_acks_everything_processed_and_admits_nothing_more(tmp_path, db_url):
    """The next owner of a partition loads its state from SQL when it is assigned: by then the old
    owner must have written (and acked, and paged for) every event it took, and take no more."""
    worker = _runtime(tmp_path, db_url)
    rt = worker.rt
    await upgrade(rt.engine)
    tp = TP(rt.topic_name(T.ORDERS), 0)
    await rt.app.on_partitions_assigned.send({tp})
    customers = worker.customers
    meta = type("M", (), {"partition": 0})()
    acked: list[int] = []

    async def event(n: int) -> None:  # as the ingest agent: admitted, the handlers, then the ack
        await rt.admit()
        await customers.on_order(_order("c1", n), meta)
        rt.writer.ack_after(lambda: acked.append(n))

    await event(1)  # processed, not yet written
    revoking = asyncio.ensure_future(rt.app.on_partitions_revoked.send({tp}))
    late = asyncio.ensure_future(event(2))  # arrives while the revoke writes
    await asyncio.wait_for(revoking, 10)
    assert acked == [1], "the revoke returned before the event it had taken was written and acked"
    assert not late.done(), "an event was taken after the revoke began"
    async with rt.engine.connect() as conn:
        (snapshot,) = (await conn.exec_driver_sql(
            "SELECT snapshot FROM customer_profiles WHERE customer_id = 'c1'")).one()
    snapshot = snapshot if isinstance(snapshot, dict) else json.loads(snapshot)
    assert snapshot["orders_count"] == 1  # in SQL for the next owner
    late.cancel()
    await rt.engine.dispose()
