"""The cases table on a real database (migrated): conditional actions, people's actions read back by the
owning worker's driver (the on_resolved port told once), the board's timeline provider."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert

from agents.cases import store
from agents.cases.agent import Cases
from agents.escalation.routing import CustomerContext
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.settings import DatabaseSettings
from tests.unit.cases.factories import MON_10, make_cf, make_core

pytestmark = pytest.mark.integration


async def _setup(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    await upgrade(engine)
    core = make_core(calendar=None)
    opened = [core.on_classified(make_cf(c, "delivery"), CustomerContext(owner_rep_id="rep-3", region="south"), p,
                                 None, MON_10).case for c, p in (("c-1", 0), ("c-2", 1))]
    async with engine.begin() as conn:
        await conn.execute(insert(store.CASES), [c.row() for c in opened])
    return engine, opened


def test_actions_are_conditional_and_the_owner_is_told_of_a_resolution_once(db_url):
    async def main():
        engine, (c1, c2) = await _setup(db_url)
        try:
            told = []

            async def on_resolved(customer_id, what, now):
                told.append((customer_id, what, now))

            # the driver of the worker owning partition 0 (only the database is used by load and sync)
            cases = Cases(SimpleNamespace(engine=engine), make_core(calendar=None), on_resolved=on_resolved)
            await cases.load({0})
            assert set(cases.core.open) == {("c-1", "delivery")}

            # two people respond at once: exactly one wins, the other sees the state it lost to
            results = await asyncio.gather(*(store.act(engine, c1.case_id, "respond", MON_10 + timedelta(minutes=m))
                                             for m in (1, 2)))
            assert sorted(o for o, _ in results) == ["conflict", "done"]
            assert all(row["state"] == "responded" for _, row in results)
            assert (await store.act(engine, "nope", "resolve", MON_10)) == ("missing", None)

            await cases.sync()
            assert cases.core.open[("c-1", "delivery")].state == "responded" and told == []
            resolved_at = MON_10 + timedelta(hours=1)
            assert (await store.act(engine, c1.case_id, "resolve", resolved_at))[0] == "done"
            assert (await store.act(engine, c2.case_id, "resolve", resolved_at))[0] == "done"  # another partition's
            await cases.sync()
            await cases.sync()
            assert told == [("c-1", "case", resolved_at)] and cases.core.open == {}

            assert [c["id"] for c in await store.list_cases(engine, "all")] == sorted([c1.case_id, c2.case_id])
            assert await store.list_cases(engine, "open") == []
            [entry] = await store.timeline(engine, "c-1")
            assert (entry["kind"], entry["id"], entry["state"], entry["due_at"]) == ("case", c1.case_id, "resolved",
                                                                                    None)
        finally:
            await engine.dispose()

    asyncio.run(main())
