"""Target pace and campaign ROI from the month's KPIs: who is behind, which campaign burns money, once a month each."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from agents.escalation.policy import load_policy
from agents.escalation.routing import IncidentFields, plan
from agents.kpis import KpiState, Rates, load_targets
from agents.signals import OfflineFigures, SignalsConfig, SignalsCore, incident
from agents.signals.teams import TeamMap
from schemas.events import Channel
from tests.support.factories import make_order, make_spend

USD = Rates(reporting_currency="USD")
MARCH = datetime(2026, 3, 1, tzinfo=timezone.utc)


def at(day: int, hour: int = 12) -> datetime:
    return MARCH.replace(day=day, hour=hour)


def figures(*events) -> OfflineFigures:
    targets = load_targets()
    f = OfflineFigures(KpiState(USD, targets.rep_team), targets)
    for e in events:
        f.add(e)
    return f


def order(rep: str, amount: str, day: int = 2, campaign: str | None = None):
    return make_order(event_id=uuid.uuid4(), order_id=f"o-{uuid.uuid4().hex[:8]}", occurred_at=at(day),
                      amount=Decimal(amount), currency="USD", sales_rep_id=rep, campaign_id=campaign,
                      customer_id=f"c-{rep}")


def pace_subjects(firings) -> set[str]:
    return {f.subject for f in firings if f.kind == "target_pace"}


def test_teams_and_reps_behind_pace_fire_after_the_configured_day_only():
    # rep-1's March target is 400,000 x 0.08 = 32,000; rep-2 is on pace with 25,000 by the 15th
    f = figures(order("rep-1", "3000"), order("rep-2", "25000"))
    core = SignalsCore(SignalsConfig())
    assert core.kpis(f.month_now(at(9)), at(9)) == []            # before after_day (10)
    fired = core.kpis(f.month_now(at(15)), at(15))
    subjects = pace_subjects(fired)
    assert "rep:rep-1" in subjects and "rep:rep-2" not in subjects
    rep1 = next(x for x in fired if x.subject == "rep:rep-1")
    assert rep1.evidence["pace"] < 0.7 and rep1.evidence["actual"] == 3000.0 and rep1.team == "north"
    assert rep1.window_start == MARCH
    # the same month again: nothing new; April: again
    assert core.kpis(f.month_now(at(20)), at(20)) == []
    april = datetime(2026, 4, 12, tzinfo=timezone.utc)
    assert "rep:rep-1" in pace_subjects(core.kpis(f.month_now(april), april))


def test_pace_kinds_and_floor_are_configured():
    f = figures(order("rep-1", "3000"))       # north: 3,000 of ~43,000 expected by the 15th (7%); south: nothing
    teams = SignalsCore(SignalsConfig(target_pace={"kinds": ["team"]})).kpis(f.month_now(at(15)), at(15))
    assert {"team:north", "team:south"} <= pace_subjects(teams) and all(s.startswith("team:") for s in pace_subjects(teams))
    low = SignalsCore(SignalsConfig(target_pace={"kinds": ["team"], "pace_floor": 0.05})).kpis(f.month_now(at(15)), at(15))
    assert "team:north" not in pace_subjects(low) and "team:south" in pace_subjects(low)


@pytest.mark.parametrize("spend,revenue,fires", [
    ("5000", "1000", True),     # ROI -80% after 5,000 spent
    ("500", "100", False),      # below the minimum spend: too early to judge
    ("5000", "6000", False),    # earning its cost back
])
def test_campaign_roi_below_the_floor_after_the_minimum_spend(spend, revenue, fires):
    f = figures(make_spend(occurred_at=at(3), amount=Decimal(spend), currency="USD", campaign_id="spring",
                           period_start=at(3), period_end=at(4)),
                order("rep-1", revenue, campaign="spring"))
    fired = [x for x in SignalsCore(SignalsConfig()).kpis(f.month_now(at(12)), at(12)) if x.kind == "campaign_roi"]
    assert [x.subject for x in fired] == (["campaign:spring"] if fires else [])
    if fires:
        assert fired[0].evidence["roi"] == pytest.approx(-0.8) and fired[0].evidence["spend"] == 5000.0


def test_raised_keys_read_back_are_not_raised_again():
    f = figures(order("rep-1", "3000"))
    first = SignalsCore(SignalsConfig()).kpis(f.month_now(at(15)), at(15))
    again = SignalsCore(SignalsConfig())
    again.remember(x.incident_key for x in first)
    assert again.kpis(f.month_now(at(16)), at(16)) == []


def test_pace_incidents_page_the_lead_of_the_directory_team_and_campaigns_marketing():
    policy = load_policy()
    teams = TeamMap(load_targets(), policy.directory)
    f = figures(order("rep-3", "100"), make_spend(occurred_at=at(3), amount=Decimal("5000"), currency="USD",
                                                 campaign_id="spring", period_start=at(3), period_end=at(4)))
    fired = {x.subject: x for x in SignalsCore(SignalsConfig()).kpis(f.month_now(at(15)), at(15))}

    def first_level(subject: str) -> tuple[str, list[str]]:
        ev = incident(fired[subject], Channel.web, teams.of(fired[subject]))
        p = plan(IncidentFields.of(ev), None, policy)
        return p.steps[0].name, [t.id for t in p.steps[0].targets]

    assert first_level("rep:rep-3") == ("team_lead", ["lead-south"])
    assert first_level("team:north") == ("team_lead", ["lead-north"])
    assert first_level("campaign:spring") == ("director", ["director", "marketing"])
    assert incident(fired["team:north"], Channel.web).category == "target_pace"
