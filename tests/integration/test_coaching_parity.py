"""One core, two drivers: `salespulse coaching simulate` (in memory) and the worker's sweep (SQL, one slot per
day) open and recover the same items from the same observations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.escalation.policy import load_policy
from agents.performance import coaching_store as store
from agents.performance.coaching import load_training, members_of
from agents.performance.coaching_replay import read_observations, simulate
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.settings import DatabaseSettings, PathsSettings

pytestmark = pytest.mark.integration

OBSERVATIONS = Path(__file__).resolve().parents[1] / "data" / "coaching" / "observations.jsonl"


def test_simulate_and_the_sweep_decide_the_same(db_url):
    cfg = load_training()
    paths = PathsSettings()
    members = members_of(load_policy(paths.resolve("escalation_policy", "escalation.yaml"),
                                     paths.resolve("directory", "directory.yaml")).directory.people)
    rows = read_observations(OBSERVATIONS)
    offline = {(x["id"], x["event"]) for x in simulate(cfg, members, rows)}
    assert {e for _, e in offline} == {"opened", "recovered"}

    async def swept():
        engine = make_engine(DatabaseSettings(url=db_url))
        await upgrade(engine)
        try:
            by_at: dict = {}
            for at, rep, metric, value in rows:
                by_at.setdefault(at, {}).setdefault(rep, {})[metric] = value
            for at in sorted(by_at):
                await store.sweep(engine, cfg, members, at, by_at[at])
            items = await store.list_items(engine, "all")
        finally:
            await engine.dispose()
        return {(i["id"], "opened") for i in items} | {(i["id"], "recovered") for i in items
                                                         if i["state"] == "recovered"}

    assert asyncio.run(swept()) == offline
