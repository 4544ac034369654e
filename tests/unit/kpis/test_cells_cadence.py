"""KPI cells are a read model of the facts, written at most every CELLS_EVERY_S: the facts go into every
flush with the events' acks, the cells follow within that interval, a quiet stream's too (the timer),
and a drain writes everything."""

from __future__ import annotations

import json
from decimal import Decimal

from prometheus_client import CollectorRegistry

from agents.kpis import Rates
from agents.kpis import agent as kpi_agent
from agents.kpis.agent import Kpis
from agents.kpis.rollups import CELL_KEY, CELLS, FACTS
from agents.kpis.targets import TargetsConfig
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.db.writer import BatchWriter
from pipeline.metrics import Metrics
from pipeline.settings import DatabaseSettings
from tests.support.factories import make_order
from tests.unit.kpis.test_publish import Rt

META = type("Meta", (), {"partition": 0})()


async def stored(engine) -> tuple[int, int, Decimal]:
    """(facts, cells, gross of the company's total cell) in SQL."""
    async with engine.connect() as conn:
        facts = len((await conn.execute(FACTS.select())).all())
        cells = (await conn.execute(CELLS.select())).mappings().all()
    total = [c for c in cells if (c["scope"], c["granularity"], c["dimension"]) == ("*", "total", "all")]
    counts = total[0]["counts"] if total else "[0, 0]"
    return facts, len(cells), (json.loads(counts) if isinstance(counts, str) else counts)[1]


async def test_cells_follow_the_facts_within_the_interval(db_url, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kpi_agent.time, "monotonic", lambda: clock[0])
    engine = make_engine(DatabaseSettings(url=db_url))
    try:
        await upgrade(engine)
        metrics = Metrics(CollectorRegistry())
        writer = BatchWriter(engine, metrics)
        k = Kpis(Rt(engine, writer, metrics), Rates(reporting_currency="EUR"),
                 TargetsConfig(year=2026, currency="EUR", teams={}))
        writer.register(CELLS, conflict=list(CELL_KEY), update=["counts", "updated_at"])
        writer.register(FACTS, conflict=["kind", "key"], update=["partition", "fact"])
        writer.before_flush(k.write_changed)
        writer.before_drain(k.before_drain)

        async def order(oid: str, amount: str) -> None:
            await k.on_order(make_order(order_id=oid, amount=Decimal(amount)), META)
            writer.ack_after(lambda: None)
            await writer.flush()

        await order("o1", "100.00")            # the first cells go at once
        assert await stored(engine) == (1, 48, 1_000_000)
        clock[0] += 0.5
        await order("o2", "50.00")             # the fact now, its cells not before the interval is up
        assert await stored(engine) == (2, 48, 1_000_000)
        await k.write_pending_cells()          # the timer within the interval: nothing yet
        await writer.flush()
        assert (await stored(engine))[2] == 1_000_000
        clock[0] += kpi_agent.CELLS_EVERY_S
        await k.write_pending_cells()          # a quiet stream: the timer writes them
        await writer.flush()
        assert (await stored(engine))[2] == 1_500_000

        await order("o3", "25.00")
        assert (await stored(engine))[2] == 1_500_000
        await writer.drain()                   # a revoke or a shutdown writes every changed cell
        assert await stored(engine) == (3, 48, 1_750_000)
    finally:
        await engine.dispose()
