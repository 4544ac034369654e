"""Escalation routing's context of customers other workers own (CustomerContexts), from SQL: the
same context the owner computes, read without this worker's own partitions, again after a rebalance."""

from __future__ import annotations

from decimal import Decimal

from faust.types import TP
from prometheus_client import CollectorRegistry

from agents.customers.agent import routing_context
from pipeline import topics as T
from pipeline.admin import ensure_topics
from agents import build_worker
from pipeline.db.migrate import upgrade
from pipeline.metrics import Metrics
from pipeline.runtime import now_utc
from pipeline.settings import Settings
from tests.support.factories import at, make_order


def _settings(broker, db_url, tmp_path, name, prefix):
    return Settings(kafka={"broker": broker.url, "flavour": broker.kind}, database={"url": db_url},
                    worker={"data_dir": str(tmp_path / name), "app_id": "ctx"}, topic_prefix=prefix)


async def _runtime(broker, db_url, tmp_path, name, prefix):
    settings = _settings(broker, db_url, tmp_path, name, prefix)
    worker = build_worker(settings, Metrics(CollectorRegistry()))
    await worker.rt.app.producer.start()  # profiles are published as they are written
    return worker


async def _own(rt, partitions: set[int]) -> None:
    await rt.app.on_partitions_assigned.send({TP(rt.topic_name(T.ORDERS), p) for p in partitions})


async def _order(worker, partition: int, customer: str, n: int, **kw) -> None:
    meta = type("M", (), {"partition": partition})()
    await worker.customers.on_order(make_order(customer_id=customer, order_id=f"{customer}-{n}",
                                               occurred_at=at(n), amount=Decimal(10 * n), **kw), meta)
    worker.rt.writer.ack_after(lambda: None)  # as the ingest agent does after the handlers


async def test_contexts_of_other_workers_customers_equal_the_owners_and_skip_own_partitions(broker, tmp_path, db_url,
                                                                                            run_id):
    prefix = f"ctx{run_id}."
    ensure_topics(_settings(broker, db_url, tmp_path, "t", prefix))
    wa = await _runtime(broker, db_url, tmp_path, "a", prefix)
    wb = await _runtime(broker, db_url, tmp_path, "b", prefix)
    a, b = wa.rt, wb.rt
    await upgrade(a.engine)
    await _own(a, {0})
    await _own(b, {1})
    await _order(wa, 0, "c-plain", 1, sales_rep_id=None, region=None)
    await a.writer.flush()
    for n in (1, 2, 3):
        await _order(wa, 0, "c-a", n, sales_rep_id="rep-7", region="east")
    await _order(wb, 1, "c-b", 1)
    await a.writer.flush()
    await b.writer.flush()

    contexts = wb.customers.contexts
    await contexts.refresh()
    assert contexts.rows_read == 2, "worker b read rows of its own partition"
    assert contexts.get("c-b") is None
    book = wa.customers.book
    for cid in ("c-a", "c-plain"):
        owner = routing_context(book, book.profiles[cid], now_utc())
        got = await wb.customers.context(cid)
        assert got is not None
        assert (got.value, got.owner_rep_id, got.region) == (owner.value, owner.owner_rep_id, owner.region)
        if cid == "c-a":  # published last: the RFM population has not moved since (c-plain's segment has)
            assert got.segment == owner.segment
            assert abs(got.churn_risk - owner.churn_risk) < 0.01
    assert (await wb.customers.context("c-a")).owner_rep_id == "rep-7"
    assert (await wb.customers.context("c-plain")).region is None

    # incremental: with nothing new, only the rows of the latest update are read again
    await contexts.refresh()
    assert contexts.rows_read == 1
    await _order(wa, 0, "c-a", 4, sales_rep_id="rep-7", region="east")
    await a.writer.flush()
    await contexts.refresh()
    assert (await wb.customers.context("c-a")).value == Decimal("110.00")  # 100 EUR, in USD at 1.10

    # b gives partition 1 up and takes 0: everything not its own is read again, c-b included
    await _own(b, {0})
    await contexts.refresh()
    assert contexts.rows_read == 1 and contexts.get("c-b") is not None
    for rt in (a, b):
        await rt.app.producer.stop()
        rt.writer.close()
        await rt.engine.dispose()
