"""Scorecards read from a real database (the KPI cells of the month), scoped by reader: a rep sees themselves, a
lead their team, a manager their region, no region everything; the revenue and incentive ports plug in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from agents.customers.codec import to_us
from agents.escalation.directory import Directory
from agents.escalation.policy import DEFAULT_DIRECTORY
from agents.kpis.cells import FUNNEL, FUNNEL_WIDTH, ORDERS
from agents.kpis.rollups import CELLS, cell_row
from agents.followups.core import new_row
from agents.followups.store import FOLLOWUPS
from agents.kpis.targets import load_targets
from agents.performance.metrics import coaching_observations
from agents.performance.service import Unseen, scorecards
from agents.performance.targets import load_scorecard_targets, parse_period
from pipeline.configfile import load_yaml
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.settings import DatabaseSettings
from schemas.customers import FollowUpReason, FollowUpTask, stable_id

DIRECTORY = load_yaml(DEFAULT_DIRECTORY, Directory)
TARGETS = load_scorecard_targets(revenue=load_targets(), directory=DIRECTORY)
NOV = parse_period("2026-11")
NOW = datetime(2026, 11, 16, tzinfo=timezone.utc)


@pytest.fixture
async def engine(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    await upgrade(engine)
    b = to_us(NOV.start)
    funnel = [0] * FUNNEL_WIDTH
    funnel[:5] = [10, 6, 3, 2, 1]
    rows = [cell_row((ORDERS, "*", "month", b, "rep", "rep-1"), [3, 30_000 * 10_000, 0, 3, 0, 0], 0, 1),
            cell_row((ORDERS, "*", "month", b, "rep", "rep-2"), [2, 8_000 * 10_000, 1_000 * 10_000, 2, 0, 0], 1, 1),
            cell_row((ORDERS, "*", "month", b, "rep", "rep-3"), [1, 25_000 * 10_000, 0, 1, 0, 0], 0, 1),
            cell_row((FUNNEL, "*", "month", b, "rep", "rep-1"), funnel, 0, 1),
            cell_row((ORDERS, "*", "month", to_us(datetime(2026, 10, 1, tzinfo=timezone.utc)), "rep", "rep-1"),
                     [9, 99_000 * 10_000, 0, 9, 0, 0], 0, 1)]
    day = [0] * FUNNEL_WIDTH
    day[:5] = [4, 1, 1, 0, 0]
    rows.append(cell_row((FUNNEL, "*", "day", to_us(datetime(2026, 11, 14, tzinfo=timezone.utc)), "rep", "rep-1"), day, 0, 1))
    async with engine.begin() as conn:
        await conn.execute(CELLS.insert(), rows)
        for i, done in enumerate((datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 12, tzinfo=timezone.utc), None)):
            await conn.execute(FOLLOWUPS.insert().values(**followup(i, done)))
    yield engine
    await engine.dispose()


def followup(i: int, done_at: datetime | None) -> dict:
    """A follow-up of rep-1 due on 2026-11-10, done at `done_at` (None: still open)."""
    due = datetime(2026, 11, 10, tzinfo=timezone.utc)
    task = FollowUpTask(event_id=stable_id("sc", str(i)), occurred_at=due - timedelta(days=2), customer_id=f"c-{i}",
                        reason=FollowUpReason.churn_risk, owner_rep_id="rep-1", churn_risk=0.5,
                        total_spend=Decimal("10"), window_start=due, due_at=due, detail="d", region="north")
    row = new_row(task, 0, DIRECTORY, None)[1]
    return {**row, "state": "open" if done_at is None else "done", "done_at": done_at}


def person(pid):
    return DIRECTORY.person(pid)


async def test_a_rep_sees_only_their_own(engine):
    out = await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, reader=person("rep-1"))
    assert [c["id"] for c in out["scorecards"]] == ["rep-1"] and out["teams"] == []
    card = out["scorecards"][0]
    assert card["figures"]["revenue"] == "30000.00" and card["figures"]["orders"] == 3
    assert card["attainment"] == 0.75                      # 30,000 of 40,000 (400,000 x 0.10)
    assert card["figures"]["conversion"] == 0.1 and card["conversion_by_stage"]["lead"]["rate"] == 0.6
    # three follow-ups due 11-10: one done before, one after, one open
    assert (card["figures"]["followups_due"], card["figures"]["followup_completion"],
            card["figures"]["followup_on_time"]) == (3, round(2 / 3, 4), round(1 / 3, 4))
    with pytest.raises(Unseen) as exc:
        await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, reader=person("rep-1"), rep="rep-2")
    assert exc.value.status == 403


async def test_a_lead_sees_their_team_and_its_card_ranked_by_attainment(engine):
    out = await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, reader=person("lead-north"))
    assert [c["id"] for c in out["scorecards"]] == ["rep-1", "rep-2"]
    assert [t["id"] for t in out["teams"]] == ["team-north"]
    assert out["teams"][0]["figures"]["revenue"] == "37000.00"
    assert [r["rep"] for r in out["leaderboard"]] == ["rep-1", "rep-2"]
    with pytest.raises(Unseen):
        await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, reader=person("lead-north"), team="team-south")


async def test_manager_region_director_everything_and_unknowns(engine):
    south = await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, reader=person("manager-south"))
    assert [c["id"] for c in south["scorecards"]] == ["rep-3", "rep-4"]
    every = await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, reader=person("director"))
    assert len(every["scorecards"]) == 8 and len(every["teams"]) == 4
    # rep-3: 25,000 of 54,000 (450,000 x 0.12, 46%) ranks below rep-1 (75%)
    assert every["leaderboard"][0]["rep"] == "rep-1"
    with pytest.raises(Unseen) as exc:
        await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, rep="rep-99")
    assert exc.value.status == 404


async def test_the_ports(engine):
    async def revenue_of(kind, ident, period):
        return Decimal("44000") if ident == "rep-1" else None

    out = await scorecards(engine, DIRECTORY, TARGETS, NOV, NOW, rep="rep-1", revenue_of=revenue_of,
                           incentive_of=lambda rep, period: {"rep": rep, "period": period.text})
    card = out["scorecards"][0]
    assert card["attainment"] == 1.1 and card["incentive"] == {"rep": "rep-1", "period": "2026-11"}


async def test_coaching_observations(engine):
    obs = await coaching_observations(engine, NOV.start, NOV.end)
    assert obs["rep-1"] == {"conversion_lead": 0.6, "conversion_qualified": 0.5, "conversion_proposal": 2 / 3,
                            "conversion_negotiation": 0.5, "ack_minutes": None, "sentiment": None}
    # a window that is not whole months reads the day cells
    week = await coaching_observations(engine, datetime(2026, 11, 10, tzinfo=timezone.utc), NOW)
    assert week["rep-1"]["conversion_lead"] == 0.25 and week["rep-1"]["conversion_proposal"] == 0.0
    assert "rep-2" not in week
