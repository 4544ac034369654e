"""Coaching on a real database (migrated): the driver observes each slot once however many workers tick, items
open after the streak, assign / done are conditional and keep the metric before and after; scoped lists."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry

from agents.escalation.directory import Directory
from agents.performance import coaching_store as store
from agents.performance.coaching import TrainingConfig
from agents.performance.coaching_agent import Coaching
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.metrics import Metrics
from pipeline.settings import DatabaseSettings

pytestmark = pytest.mark.integration

DAY0 = datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc)
CFG = TrainingConfig(topics=[{"id": "qualifying-leads", "title": "Qualifying leads", "link": "https://t.example/q"},
                             {"id": "negotiation", "title": "Negotiation"}],
                     rules=[{"metric": "conversion_qualified", "margin": 0.1, "for_days": 2,
                             "topic": "qualifying-leads"}])
DIRECTORY = Directory.model_validate({"version": 1, "fallback": [], "people": [
    {"id": "rep-1", "name": "R1", "role": "account_rep", "team": "team-north", "region": "north"},
    {"id": "rep-2", "name": "R2", "role": "account_rep", "team": "team-north", "region": "north"},
    {"id": "lead-n", "name": "LN", "role": "team_lead", "team": "team-north", "region": "north"},
    {"id": "lead-s", "name": "LS", "role": "team_lead", "team": "team-south", "region": "south"},
    {"id": "mgr-n", "name": "MN", "role": "sales_manager", "region": "north"},
    {"id": "boss", "name": "B", "role": "director"}]})


def test_slots_are_observed_once_and_the_training_keeps_the_metric_before_and_after(db_url):
    async def main():
        engine = make_engine(DatabaseSettings(url=db_url))
        await upgrade(engine)
        try:
            value = {"rep-1": 0.2}
            calls = []

            def observe(at):  # the port: rep-1 lagging rep-2's 0.5 by more than the margin
                calls.append(at)
                return {"rep-1": {"conversion_qualified": value["rep-1"]}, "rep-2": {"conversion_qualified": 0.5}}

            # nothing measured (the worker's port before the scorecards exist): the slot stays free
            idle = Coaching(engine, CFG, DIRECTORY, lambda at: {})
            assert await idle.tick(DAY0) is None and not await store.swept(engine, CFG.slot(DAY0))
            registry = CollectorRegistry()
            metrics = Metrics(registry)
            w1, w2 = (Coaching(engine, CFG, DIRECTORY, observe, metrics) for _ in range(2))
            # two workers tick in the same slot at once: one observation
            outs = await asyncio.gather(w1.tick(DAY0), w2.tick(DAY0 + timedelta(seconds=1)))
            assert sum(o is not None for o in outs) == 1
            assert await w1.tick(DAY0 + timedelta(hours=1)) is None and len(calls) <= 2
            out = await w2.tick(DAY0 + timedelta(days=1))
            assert len(out.opened) == 1
            assert registry.get_sample_value("salespulse_coaching_items_total",
                                             {"event": "opened", "metric": "conversion_qualified"}) == 1
            [item] = await store.list_items(engine, cfg=CFG)
            assert (item["rep"], item["state"], item["opened_value"], item["opened_median"], item["topic_title"]) == (
                "rep-1", "open", 0.2, 0.5, "Qualifying leads")
            assert item["assignment"] is None
            await w1.tick(DAY0 + timedelta(days=2))   # still behind: no second item while one is open
            assert len(await store.list_items(engine, "all")) == 1

            # scope: the rep and their lead, the north manager and the director see it; the south lead does not
            for who, sees in (("rep-1", True), ("rep-2", False), ("lead-n", True), ("lead-s", False),
                              ("mgr-n", True), ("boss", True)):
                found = await store.list_items(engine, reader=DIRECTORY.person(who), directory=DIRECTORY)
                assert bool(found) is sees, who

            # two leads assign at once: one wins; the rep may not assign their own item
            row = await store.get(engine, item["id"])
            assert not store.may_act(DIRECTORY.person("rep-1"), row, DIRECTORY, "assign")
            assert store.may_act(DIRECTORY.person("rep-1"), row, DIRECTORY, "done")
            results = await asyncio.gather(*(store.assign(engine, item["id"], "negotiation", by, DAY0 + timedelta(days=3))
                                             for by in ("lead-n", "mgr-n")))
            assert sorted(o for o, _ in results) == ["conflict", "done"]
            assert (await store.done(engine, "nope", "rep-1", DAY0)) == ("missing", None)

            value["rep-1"] = 0.45                        # better after the training
            await w1.tick(DAY0 + timedelta(days=3))
            outcome, after = await store.done(engine, item["id"], "rep-1", DAY0 + timedelta(days=4))
            assert outcome == "done"
            v = store.view(after, CFG)
            assert v["state"] == "done" and v["closed_at"] == (DAY0 + timedelta(days=4)).isoformat()
            assert {k: v["assignment"][k] for k in ("topic", "state", "before_value", "after_value", "done_by")} == {
                "topic": "negotiation", "state": "done", "before_value": 0.2, "after_value": 0.45, "done_by": "rep-1"}
            assert (await store.done(engine, item["id"], "rep-1", DAY0))[0] == "conflict"
            value["rep-1"] = 0.5
            await w1.tick(DAY0 + timedelta(days=5))      # done items keep showing the metric as observed
            [later] = await store.list_items(engine, "done")
            assert later["current_value"] == 0.5 and later["assignment"]["after_value"] == 0.45
        finally:
            await engine.dispose()

    asyncio.run(main())
