"""Who sees a case and who may respond to or resolve it: owner, region, team, department queue."""

from __future__ import annotations

import pytest

from agents.cases.store import may_act, mine, sees
from agents.escalation.policy import load_policy

D = load_policy().directory
SOUTH_REP = {"owner": "rep-3", "region": "south"}
NORTH_QUEUE = {"owner": "queue:after_sales", "region": "north"}
FINANCE_QUEUE = {"owner": "queue:finance", "region": None}


@pytest.mark.parametrize("who,row,see,act", [
    ("rep-3", SOUTH_REP, True, True),              # the owner
    ("rep-4", SOUTH_REP, True, False),             # same team and region: sees it, may not act on a colleague's
    ("lead-south", SOUTH_REP, True, True),         # their team
    ("manager-south", SOUTH_REP, True, True),      # their region
    ("rep-1", SOUTH_REP, False, False),            # another region
    ("lead-north", SOUTH_REP, False, False),
    ("director", SOUTH_REP, True, True),           # no region: everything
    ("rep-1", NORTH_QUEUE, True, True),            # their region's queue
    ("rep-3", NORTH_QUEUE, False, False),
    ("after-sales-north", NORTH_QUEUE, True, True),  # the department, in its region
    ("after-sales", NORTH_QUEUE, True, True),        # the department's desk without a region
    ("finance", NORTH_QUEUE, True, True),            # no region: may act everywhere
    ("after-sales-north", SOUTH_REP, False, False),
    ("finance", FINANCE_QUEUE, True, True),
    ("rep-1", FINANCE_QUEUE, False, False),
    ("after-sales-north", FINANCE_QUEUE, False, False),
])
def test_scope_of_cases(who, row, see, act):
    person = D.person(who)
    assert sees(person, row, D) is see
    assert may_act(person, row, D) is act


@pytest.mark.parametrize("who,row,is_mine", [
    ("rep-3", SOUTH_REP, True), ("rep-4", SOUTH_REP, False),
    ("after-sales-north", NORTH_QUEUE, True), ("after-sales", NORTH_QUEUE, True), ("rep-1", NORTH_QUEUE, False),
    ("finance", FINANCE_QUEUE, True),
])
def test_mine_is_owned_by_me_or_my_departments_queue(who, row, is_mine):
    assert mine(D.person(who), row) is is_mine
