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


def test_breaches_are_marked_once_in_one_statement_per_kind(db_url):
    """`_mark` on the database: a case still open gets its breach; one answered meanwhile, one another worker
    marked, and one not yet written get none; a first-response and a resolution breach of one case in the
    same part are both marked (first-response first), and marking the same part again marks nothing."""
    from agents.cases.core import Breach

    async def main():
        engine, (c1, c2) = await _setup(db_url)
        try:
            c3 = make_core(calendar=None).on_classified(make_cf("c-3", "pricing"), CustomerContext(), 0, None,
                                                        MON_10).case  # never written: the writer has not got to it
            assert (await store.act(engine, c2.case_id, "respond", MON_10 + timedelta(minutes=1)))[0] == "done"
            cases = Cases(SimpleNamespace(engine=engine), make_core(calendar=None))
            due = MON_10 + timedelta(hours=1)
            part = [Breach(c1, "first_response", due), Breach(c2, "first_response", due),
                    Breach(c3, "first_response", due), Breach(c1, "resolution", due)]
            marked = await cases._mark(list(reversed(part)), MON_10 + timedelta(hours=2))
            assert sorted((b.case.case_id, b.which) for b in marked) == [(c1.case_id, "first_response"),
                                                                         (c1.case_id, "resolution")]
            rows = {r["id"]: r for r in await store.list_cases(engine, "all")}
            assert rows[c1.case_id]["breach"] == "resolution" and rows[c2.case_id]["breach"] is None
            assert await cases._mark(part, MON_10 + timedelta(hours=3)) == []  # another worker marked them
        finally:
            await engine.dispose()

    asyncio.run(main())
