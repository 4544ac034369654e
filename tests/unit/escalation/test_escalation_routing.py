"""Routing, table-driven: incident fields + customer context -> the chain (start level, timeouts, people)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.escalation.routing import CustomerContext, IncidentFields, plan
from schemas.events import Channel, Severity

C, H, M, L = Severity.critical, Severity.high, Severity.medium, Severity.low


def chain(p) -> list[tuple[int, int]]:
    """(1-based level, timeout in minutes) for each step of one loop."""
    return [(s.level + 1, round(s.timeout_seconds / 60)) for s in p.steps]


CASES = [
    # (id, fields, customer context, expected chain, informed at once)
    ("critical starts at team lead, informs director", dict(severity=C), None,
     [(2, 30), (3, 60), (4, 120)], [4]),
    ("high starts at account rep", dict(severity=H), None, [(1, 15), (2, 30), (3, 60), (4, 120)], []),
    ("medium doubles timeouts", dict(severity=M), None, [(1, 30), (2, 60), (3, 120), (4, 240)], []),
    ("low doubles timeouts", dict(severity=L, channel=Channel.web), None,
     [(1, 30), (2, 60), (3, 120), (4, 240)], []),
    ("champion moves one level up", dict(severity=H), dict(segment="Champions"),
     [(2, 30), (3, 60), (4, 120)], []),
    ("can't lose moves one level up", dict(severity=M), dict(segment="Can't lose"),
     [(2, 60), (3, 120), (4, 240)], []),
    ("critical champion starts at manager", dict(severity=C), dict(segment="Champions"),
     [(3, 60), (4, 120)], [4]),
    ("other segments do not move", dict(severity=H), dict(segment="At risk", churn_risk=0.9, value=Decimal("9e6")),
     [(1, 15), (2, 30), (3, 60), (4, 120)], []),
]


@pytest.mark.parametrize("fields,ctx,expected,informed", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_shipped_routes(shipped_policy, fields, ctx, expected, informed):
    p = plan(IncidentFields(**fields), CustomerContext(**ctx) if ctx else None, shipped_policy)
    assert chain(p) == expected
    assert [s.level + 1 for s in p.inform] == informed
    assert p.repeat == 1


@pytest.mark.parametrize("ctx,region,level,people", [
    (None, "north", "account_rep", ["rep-1", "rep-2"]),                # region's reps
    (dict(owner_rep_id="rep-3"), "north", "account_rep", ["rep-3"]),   # the owner beats the region
    (dict(owner_rep_id="rep-3"), "north", "team_lead", ["lead-south"]),  # the owner's team lead
    (None, "west", "sales_manager", ["manager-west"]),
    (None, "north", "director", ["director"]),                         # no region: covers all
    (None, "atlantis", "account_rep", ["duty-officer"]),               # nobody there: fallback
    (None, None, "team_lead", ["duty-officer"]),
])
def test_roles_resolve_by_owner_team_region(shipped_policy, ctx, region, level, people):
    p = plan(IncidentFields(severity=H, region=region), CustomerContext(**ctx) if ctx else None, shipped_policy)
    step = next(s for s in p.steps if s.name == level)
    assert [t.id for t in step.targets] == people


def test_calendar_only_for_non_urgent(shipped_policy):
    crit = plan(IncidentFields(severity=C), None, shipped_policy)
    low = plan(IncidentFields(severity=L), None, shipped_policy)
    assert {s.calendar for s in crit.steps} == {None}
    assert [s.calendar for s in low.steps] == ["office", "office", "office", None]


def test_playbook_per_category_with_default(shipped_policy):
    assert plan(IncidentFields(severity=H, category="delivery"), None, shipped_policy).playbook.name == "delivery"
    assert plan(IncidentFields(severity=H, category="unheard_of"), None, shipped_policy).playbook.name == "default"


def test_route_matching_on_customer_value_and_extra_targets(make_policy):
    def edit(pol, _d):
        pol["routes"].insert(0, {"name": "big spender", "match": {"value_at_least": 10000, "churn_risk_at_least": 0.5},
                                 "start_level": "sales_manager", "extra_targets": [{"person": "director"}]})
    pol = make_policy(edit)
    rich = CustomerContext(value=Decimal("20000"), churn_risk=0.6)
    p = plan(IncidentFields(severity=L, region="east"), rich, pol)
    assert p.route_name == "big spender"
    assert [[t.id for t in s.targets] for s in p.steps] == [["manager-east", "director"], ["director"]]
    poor = CustomerContext(value=Decimal("20000"), churn_risk=0.1)
    assert plan(IncidentFields(severity=L), poor, pol).route_name == "medium and low"
    assert plan(IncidentFields(severity=L), None, pol).route_name == "medium and low"
