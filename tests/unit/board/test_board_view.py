"""The incident board's rules: who sees which incident, what a card holds, in which order."""

from __future__ import annotations

import pytest

from agents.board.view import item, me, sort_key, visible
from agents.escalation.machine import due, on_command, on_incident
from agents.escalation.policy import load_policy
from schemas.events import Severity
from tests.unit.escalation.factories import at, command, incident


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def _state(policy, minutes_later: float = 0, **kw):
    s, _ = on_incident(None, incident(**kw), policy, None, at(0))
    return due(s, policy, at(minutes_later))[0] if minutes_later else s


@pytest.mark.parametrize("person,sees", [
    ("rep-1", True),          # north rep, paged at level 1
    ("rep-2", True),          # north rep of the same team
    ("lead-north", True),     # their team lead (a level above)
    ("manager-north", True),
    ("director", True),       # no region: covers every region
    ("rep-3", False),         # south rep: may act on level 1, but it is not their region or chain
    ("lead-south", False),
    ("manager-south", False),
    ("duty-officer", False),  # on no level of the chain
])
def test_a_north_incident_at_level_one(policy, person, sees):
    s = _state(policy, severity=Severity.high, region="north")
    assert visible(policy.directory.person(person), s, policy) is sees


def test_reps_lose_sight_once_the_incident_climbs_above_them_unless_they_were_paged(policy):
    s = _state(policy, minutes_later=20, severity=Severity.high, region="north")   # level 1 timed out
    d = policy.directory
    assert s.current.name == "team_lead"
    assert visible(d.person("rep-1"), s, policy)        # rep-1 was paged for it at level 1
    assert visible(d.person("lead-north"), s, policy)
    assert not visible(d.person("rep-3"), s, policy)


def test_closed_incidents_leave_the_board_acknowledged_ones_stay(policy):
    d = policy.directory
    s = _state(policy, severity=Severity.high, region="north")
    acked, _ = on_command(s, command("ack", minutes=1), policy, at(1))
    assert acked.status == "acknowledged" and visible(d.person("lead-north"), acked, policy)
    resolved, _ = on_command(acked, command("resolve", minutes=2), policy, at(2))
    assert not visible(d.person("lead-north"), resolved, policy)
    assert not visible(d.person("director"), resolved, policy)


def test_me_names_the_highest_level(policy):
    d = policy.directory
    assert me(d.person("manager-north"), policy)["level_name"] == "sales_manager"
    assert me(d.person("duty-officer"), policy)["level"] is None


def test_a_card_carries_chain_playbook_and_customer_facts(policy):
    s = _state(policy, severity=Severity.critical, category="product_safety", region="north")
    card = item(s, {"segment": "Champions", "churn_risk": 0.3}, [{"text": "hot handle"}])
    assert card["severity"] == "critical" and card["level_name"] == s.current.name
    assert [c["current"] for c in card["chain"]].count(True) == 1
    assert card["playbook"]["steps"] and all(st["owner"] for st in card["playbook"]["steps"])
    assert card["customer"]["segment"] == "Champions" and card["feedback"] == [{"text": "hot handle"}]
    assert card["next_deadline"] is not None
    bare = item(s, None, [])
    assert bare["customer"] is None and bare["feedback"] == []


def test_cards_are_ordered_by_severity_then_level_then_deadline(policy):
    low = item(_state(policy, key="a", severity=Severity.low, region="north"), None, [])
    high_l1 = item(_state(policy, key="b", severity=Severity.high, region="north"), None, [])
    high_l2 = item(_state(policy, 20, key="c", severity=Severity.high, region="north"), None, [])
    crit = item(_state(policy, key="d", severity=Severity.critical, region="north"), None, [])
    ordered = sorted([low, high_l1, crit, high_l2], key=sort_key)
    assert [c["incident_key"] for c in ordered] == ["d", "c", "b", "a"]
