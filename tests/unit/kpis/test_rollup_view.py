"""GET /kpis's incremental view: reading only the rows changed since the previous read gives the same answer
as reading every row, through batches of changes from several partitions (a real SQLite database)."""

from __future__ import annotations

import random
import uuid
import zlib
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal

from agents.kpis import KpiState, Rates, apply_funnel, apply_order, apply_spend, load_targets
from agents.kpis.cells import COMPANY
from agents.kpis.rollups import CELL_KEY, CELLS, changed_rows
from agents.kpis.web import KpiViews
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.db.writer import upsert_statement
from pipeline.settings import DatabaseSettings
from schemas.events import FunnelStage, OrderStatus
from tests.support.factories import at, make_funnel, make_order, make_spend

USD = Rates(reporting_currency="USD")
APPLY = {"order": apply_order, "funnel": apply_funnel, "campaign_spend": apply_spend}
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def events(rng: random.Random, n: int) -> list:
    out = []
    for _ in range(n):
        m = rng.randrange(60 * 24 * 90)
        k = rng.randrange(40)
        kind = rng.random()
        if kind < 0.1:
            out.append(make_spend(occurred_at=at(m), period_start=at(m), period_end=at(m + 60), currency="USD",
                                  amount=Decimal(rng.randrange(1, 300)), event_id=uuid.uuid4(),
                                  campaign_id=rng.choice(["spring-sale", "newsletter"])))
        elif kind < 0.3:
            out.append(make_funnel(opportunity_id=f"p{k}", customer_id=f"c{k % 9}", occurred_at=at(m),
                                   stage=rng.choice(list(FunnelStage)), event_id=uuid.uuid4(),
                                   region=rng.choice(["north", "south"])))
        else:
            out.append(make_order(customer_id=f"c{k % 9}", order_id=f"o{k}", occurred_at=at(m), event_id=uuid.uuid4(),
                                  status=rng.choice(list(OrderStatus)), amount=Decimal(rng.randrange(1, 500)),
                                  currency="USD", sales_rep_id=rng.choice(["rep-1", "rep-3", None]),
                                  region=["north", "south", None][k % 3]))
    return out


async def test_incremental_reads_equal_full_reads_through_changes(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    await upgrade(engine)
    targets = load_targets(reporting_currency="USD")
    states: dict = defaultdict(lambda: KpiState(USD, targets.rep_team))
    live = KpiViews(engine, targets, "USD")      # read again and again, as a worker's page does
    rng = random.Random(3)
    stmt = upsert_statement(engine.dialect.name, CELLS, list(CELL_KEY), ["counts", "updated_at"])
    try:
        for batch in range(6):
            for e in events(rng, 60):
                key = e.campaign_id if e.event_type == "campaign_spend" else e.customer_id
                APPLY[e.event_type](states[(e.event_type, zlib.crc32(key.encode()) % 3)], e)
            rows = [r for (_, p), s in states.items() for r in changed_rows(s, p, batch * 1_000_000)[0]]
            async with engine.begin() as conn:
                if rows:
                    await conn.execute(stmt, rows)
            for scope in (COMPANY, "north"):
                got = await live.answer(scope, ("day", "month", "total"), NOW)
                fresh = await KpiViews(engine, targets, "USD").answer(scope, ("day", "month", "total"), NOW)
                assert got == fresh, (batch, scope)
        assert got["windows"]["total"][0]["rows"]
    finally:
        await engine.dispose()


def test_cells_of_every_state_are_written_once_per_change():
    s = KpiState(USD)
    apply_order(s, make_order(order_id="o1", occurred_at=at(0), currency="USD"))
    cells, facts = changed_rows(s, 0, 1)
    assert cells and facts and changed_rows(s, 0, 2) == ([], [])
    assert {r["updated_at"] for r in cells} == {1}
