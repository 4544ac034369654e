"""KpiSnapshot publishing against a real database: a snapshot read while a flush is still writing the cells it
should show must not use up the window's mark, or the last snapshot on the topic stays stale for good."""

from __future__ import annotations

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


class Rt:
    def __init__(self, engine, writer, metrics):
        self.engine, self.writer, self.metrics = engine, writer, metrics
        self.app = type("App", (), {"should_stop": False})()
        self.sent: list[tuple[str, object]] = []

    async def send(self, topic, key, value) -> None:
        self.sent.append((key, value))


async def test_a_publish_during_the_flush_that_writes_the_cells_is_followed_by_one_after_it(db_url, monkeypatch):
    monkeypatch.setattr(kpi_agent, "broker_connected", lambda rt: True)   # no consumer here; the SQL is real
    monkeypatch.setattr(kpi_agent, "PUBLISH_EVERY_S", 0.0)
    engine = make_engine(DatabaseSettings(url=db_url))
    try:
        await upgrade(engine)
        metrics = Metrics(CollectorRegistry())
        writer = BatchWriter(engine, metrics)
        rt = Rt(engine, writer, metrics)
        k = Kpis(rt, Rates(reporting_currency="EUR"), TargetsConfig(year=2026, currency="EUR", teams={}))
        writer.register(CELLS, conflict=list(CELL_KEY), update=["counts", "updated_at"])
        writer.register(FACTS, conflict=["kind", "key"], update=["partition", "fact"])
        writer.before_flush(k.write_changed)

        write = writer._write

        async def write_with_a_timer_tick(batches):
            await k.publish(kpi_agent.now_utc())     # the publish timer fires while the flush writes
            await write(batches)

        monkeypatch.setattr(writer, "_write", write_with_a_timer_tick)
        await k.on_order(make_order(amount=Decimal("120.00")), type("Meta", (), {"partition": 0})())
        writer.ack_after(lambda: None)
        for _ in range(3):
            await writer.flush()
        await k.publish(kpi_agent.now_utc())

        totals = [v for key, v in rt.sent if key == "total:0"]
        assert totals, "the total window was published"
        assert totals[-1].rows and totals[-1].rows[0].revenue == Decimal("120.00"), totals[-1]
    finally:
        await engine.dispose()
