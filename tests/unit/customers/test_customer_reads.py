"""GET /customers/{id} and `salespulse customers show` read one profile row and the RFM histograms the
workers write with the profiles: the scores equal those against every profile in SQL (what the read did
before), after changes, with several partitions and after a rebalance, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry
from sqlalchemy import event, select

from agents import build_worker
from agents.customers import CustomerBook, CustomerProfile
from agents.customers.agent import PROFILES, RFM_STATS, Customers
from agents.customers.rfmstats import PartitionStats
from agents.customers.web import customer_view
from pipeline.db.migrate import upgrade
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from schemas.events import OrderStatus
from tests.support.factories import T0, make_order

NOW = T0 + timedelta(days=200)


async def _worker(tmp_path, db_url, name="w"):
    settings = Settings(database={"url": db_url}, worker={"data_dir": str(tmp_path / name), "app_id": "reads"})
    worker = build_worker(settings, Metrics(CollectorRegistry()))

    async def sent(*_args) -> None:  # no broker here: the records are not what is tested
        return None

    worker.rt.send = sent
    return worker


def _orders(rng: random.Random, customers: int, n: int, start: int = 0):
    """Orders with many ties (same day, same amount, same count) so quintile boundaries fall inside buckets."""
    for i in range(n):
        c = rng.randrange(customers)
        yield c % 3, make_order(customer_id=f"c{c}", order_id=f"o{start + i}",
                                occurred_at=T0 + timedelta(days=rng.randrange(40), minutes=rng.randrange(3)),
                                amount=Decimal(rng.choice([5, 20, 20, 99, rng.randrange(1, 2000)])),
                                status=rng.choice([OrderStatus.paid] * 6 + [OrderStatus.refunded,
                                                                            OrderStatus.cancelled]))


async def _feed(customers: Customers, orders) -> None:
    for partition, order in orders:
        await customers.on_order(order, type("M", (), {"partition": partition})())
        customers.rt.writer.ack_after(lambda: None)  # as the ingest agent does after the handlers
    await customers.rt.writer.flush()


async def _all_profiles(engine) -> CustomerBook:
    async with engine.connect() as conn:
        states = (await conn.execute(select(PROFILES.c.state))).scalars().all()
    return CustomerBook(profiles=[CustomerProfile.from_dict(s) for s in states])


async def _assert_reads_equal_the_whole_population(engine, params) -> None:
    book = await _all_profiles(engine)
    assert len(book.population) > 50
    for cid, p in book.profiles.items():
        view = await customer_view(engine, cid, NOW, params, currency="USD")
        want = book.population.score(p.rfm_key())
        assert view["rfm"] == (want._asdict() if want else None), cid
        assert view["currency"] == "USD"


async def _assert_stats_rows_count_the_profiles(engine) -> None:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(PROFILES.c.partition, PROFILES.c.state))).all()
        stored = {(d, b, part): n for d, b, part, n in (await conn.execute(select(RFM_STATS))).all() if n}
    expected: dict[int, PartitionStats] = {}
    for part, state in rows:
        if (key := CustomerProfile.from_dict(state).rfm_key()) is not None:
            expected.setdefault(part, PartitionStats()).update(None, key)
    assert stored == {(d, b, part): n for part, s in expected.items() for (d, b), n in s.counts.items()}


async def test_reads_score_against_every_customer_through_changes_and_a_rebalance(tmp_path, db_url):
    wa = await _worker(tmp_path, db_url, "a")
    engine, customers = wa.rt.engine, wa.customers
    await upgrade(engine)
    rng = random.Random(7)
    await _feed(customers, _orders(rng, 150, 500))
    await _assert_stats_rows_count_the_profiles(engine)
    await _assert_reads_equal_the_whole_population(engine, customers.params)

    await _feed(customers, _orders(rng, 170, 300, start=500))  # keys move between buckets, new customers
    await _assert_stats_rows_count_the_profiles(engine)
    await _assert_reads_equal_the_whole_population(engine, customers.params)

    # another worker takes partitions 1 and 2 over (it had none); a stale bucket of theirs is zeroed
    wb = await _worker(tmp_path, db_url, "b")
    wa.rt.writer.add(RFM_STATS, {"partition": 2, "dimension": "m", "bucket": 400, "customers": 9})
    wa.rt.writer.ack_after(lambda: None)
    await wa.rt.writer.flush()
    await wb.customers.load({1, 2})
    await wa.customers.load({0})
    await _feed(wb.customers, [(p, o) for p, o in _orders(rng, 170, 200, start=800) if p])
    await _feed(wa.customers, [(p, o) for p, o in _orders(rng, 170, 200, start=1000) if not p])
    await _assert_stats_rows_count_the_profiles(engine)
    await _assert_reads_equal_the_whole_population(engine, customers.params)
    for w in (wa, wb):
        await w.rt.engine.dispose()


async def test_a_read_takes_one_profile_row_and_never_all_of_them(tmp_path, db_url):
    w = await _worker(tmp_path, db_url)
    engine = w.rt.engine
    await upgrade(engine)
    await _feed(w.customers, _orders(random.Random(3), 120, 400))
    statements: list[str] = []
    listener = lambda _c, _cur, sql, *_: statements.append(" ".join(sql.split()))  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    for cid in ("c1", "c2", "c3", "c50", "c77", "c90", "c91", "c92", "c93", "c94"):
        assert (await customer_view(engine, cid, NOW, w.customers.params))["customer_id"] == cid
    event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert 30 <= len(statements) <= 10 * 6
    counted = 0
    for sql in statements:
        if "customer_profiles.state" in sql:
            assert "WHERE customer_profiles.customer_id =" in sql
        elif "FROM customer_profiles" in sql:  # a count inside one bucket, over the key column's index
            assert "WHERE customer_profiles." in sql and ">=" in sql and "<=" in sql
            counted += "customer_rfm_stats" not in sql and "incidents" not in sql
    assert counted, "no read met a quintile boundary inside its bucket: the case is not covered"
    assert await customer_view(engine, "nobody", NOW, w.customers.params) is None
    await engine.dispose()
