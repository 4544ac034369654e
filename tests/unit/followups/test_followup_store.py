"""Follow-up rows in a real database: conditional transitions (of racing actors one wins), sweeps' claims, notices."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from datetime import datetime, timedelta, timezone

import pytest

from agents.customers.config import FollowUpRules
from agents.followups import store
from agents.followups.core import transition
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.settings import DatabaseSettings
from schemas.customers import FollowUpReason, FollowUpTask, stable_id

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
async def engine(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    await upgrade(engine)
    yield engine
    await engine.dispose()


def task(customer: str = "c-1", hours: float = 48) -> FollowUpTask:
    return FollowUpTask(event_id=stable_id("t", customer), occurred_at=NOW, customer_id=customer,
                        reason=FollowUpReason.silent_valuable, owner_rep_id="rep-1", churn_risk=0.1, total_spend=Decimal("100"),
                        window_start=NOW, due_at=NOW + timedelta(hours=hours), detail="quiet", region="north")


async def insert(engine, t: FollowUpTask, partition: int = 0, assignee: str = "rep-1") -> str:
    from agents.escalation.directory import Directory
    from agents.escalation.policy import DEFAULT_DIRECTORY
    from agents.followups.core import new_row
    from pipeline.configfile import load_yaml

    _, row = new_row(t, partition, load_yaml(DEFAULT_DIRECTORY, Directory), (t.due_at - t.occurred_at).total_seconds() / 3600)
    row["assignee"] = assignee
    async with engine.begin() as conn:
        await conn.execute(store.FOLLOWUPS.insert().values(**row))
    return str(t.event_id)


async def test_racing_actions_one_wins(engine):
    fid = await insert(engine, task())
    outs = await asyncio.gather(store.apply(engine, fid, transition("done", NOW)),
                                store.apply(engine, fid, transition("dismiss", NOW, reason="duplicate")),
                                store.apply(engine, fid, transition("done", NOW)))
    assert sum(o.applied for o in outs) == 1
    final = (await store.get(engine, fid))["state"]
    assert final in ("done", "dismissed") and all(o.row["state"] == final for o in outs)
    assert not (await store.apply(engine, fid, transition("start", NOW))).applied
    assert (await store.apply(engine, "nope", transition("done", NOW))).row is None


async def test_sweep_wakes_snoozed_and_claims_overdue_once(engine):
    fid = await insert(engine, task("c-1", hours=1), partition=3)
    other = await insert(engine, task("c-2", hours=1), partition=4)
    assert (await store.apply(engine, fid, transition("snooze", NOW, until=NOW + timedelta(minutes=30)))).applied
    woken, late = await store.sweep_rows(engine, {3}, NOW + timedelta(minutes=20))
    assert woken == [] and late == []
    woken, late = await store.sweep_rows(engine, {3}, NOW + timedelta(minutes=40))
    assert [r["event_id"] for r in woken] == [fid] and late == []
    assert await store.wake(engine, fid, NOW + timedelta(minutes=40))
    assert not await store.wake(engine, fid, NOW + timedelta(minutes=40))
    assert (await store.get(engine, fid))["state"] == "open"
    _, late = await store.sweep_rows(engine, {3, 4}, NOW + timedelta(hours=2))
    assert sorted(r["event_id"] for r in late) == sorted([fid, other])
    claims = await asyncio.gather(*(store.claim_escalation(engine, fid, NOW + timedelta(hours=2)) for _ in range(4)))
    assert claims.count(True) == 1
    _, late = await store.sweep_rows(engine, {3}, NOW + timedelta(hours=3))
    assert late == [], "escalated once"


async def test_one_notice_claim_per_person_and_period(engine):
    for c in ("c-1", "c-2"):
        await insert(engine, task(c))
    await insert(engine, task("c-3"), assignee="queue:north")
    assert sorted(await store.unnotified_people(engine)) == ["queue:north", "rep-1"]
    first, second = await asyncio.gather(store.claim_notice(engine, "rep-1", NOW, NOW),
                                         store.claim_notice(engine, "rep-1", NOW, NOW))
    assert sorted([len(first), len(second)]) == [0, 2]
    await insert(engine, task("c-4"))
    assert await store.claim_notice(engine, "rep-1", NOW, NOW) == [], "same period: already sent"
    assert [r["customer_id"] for r in await store.claim_notice(engine, "rep-1", NOW + timedelta(minutes=15), NOW)] \
        == ["c-4"]


async def test_scoped_lists(engine):
    from agents.escalation.directory import Directory
    from agents.escalation.policy import DEFAULT_DIRECTORY
    from pipeline.configfile import load_yaml

    d = load_yaml(DEFAULT_DIRECTORY, Directory)
    await insert(engine, task("c-1"))
    await insert(engine, task("c-2"), assignee="queue:north")
    rows = await store.list_followups(engine, "open", d.person("rep-2"))
    assert [r["customer_id"] for r in rows] == ["c-2"]
    assert len(await store.list_followups(engine, "open", d.person("lead-north"))) == 2
    assert await store.list_followups(engine, "open", d.person("rep-3")) == []
    assert [r["customer_id"] for r in await store.list_followups(engine, "all", d.person("rep-1"), mine=True)] == ["c-1"]
    api = store.as_api((await store.list_followups(engine, None))[0])
    assert list(api) == list(store.API_FIELDS) and api["detail"] == "quiet"
    assert FollowUpRules()  # the rules the rows were raised under load
