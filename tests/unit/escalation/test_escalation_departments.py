"""Departments (after_sales, tech_support, finance, marketing) in the directory, the policy's levels,
routes and playbooks, and the case-breach routes: checked at load, resolved to the right people."""

from __future__ import annotations

import pytest

from agents.escalation.directory import DEPARTMENTS, department_of, queue_of
from agents.escalation.routing import CustomerContext, IncidentFields, plan
from pipeline.errors import ConfigError
from schemas.events import Severity


def test_the_shipped_directory_staffs_every_department(shipped_policy):
    assert set(DEPARTMENTS) <= shipped_policy.directory.roles
    assert department_of(queue_of("after_sales")) == "after_sales"
    assert department_of("rep-1") is None and department_of(None) is None


@pytest.mark.parametrize("where,edit", [
    ("level", lambda pol: pol["levels"][0]["targets"].append({"role": "finance"})),
    ("level queue", lambda pol: pol["levels"][0]["targets"].append({"role": "queue:tech_support"})),
    ("route", lambda pol: pol["routes"][0].update(extra_targets=[{"role": "queue:marketing"}])),
    ("route match", lambda pol: pol["routes"][0]["match"].update(department=["finance"])),
    ("boost", lambda pol: pol["boosts"][0].update(extra_targets=[{"role": "after_sales"}])),
    ("playbook role", lambda pol: pol["playbooks"]["delivery"]["steps"].append(
        {"action": "replace the parcel", "owner": "after_sales"})),
    ("playbook queue", lambda pol: pol["playbooks"]["delivery"]["steps"].append(
        {"action": "take the case", "owner": "queue:after_sales"})),
])
def test_departments_are_usable_everywhere_a_role_is(make_policy, where, edit):
    make_policy(lambda pol, _d: edit(pol))


@pytest.mark.parametrize("edit,message", [
    (lambda pol, _d: pol["levels"][0]["targets"].append({"role": "queue:legal"}),
     'level 1 "account_rep" targets "queue:legal" names unknown department "legal"'),
    (lambda pol, d: (pol["levels"][0]["targets"].append({"role": "queue:finance"}),
                     d.update(people=[p for p in d["people"] if p["role"] != "finance"])),
     'level 1 "account_rep" targets "queue:finance" is a queue nobody serves: no one in the directory holds role "finance"'),
    (lambda pol, d: d.update(people=[p for p in d["people"] if p["role"] != "after_sales"]),
     'route 4 extra_targets targets "queue:after_sales" is a queue nobody serves'),
    (lambda pol, d: (pol["routes"].__delitem__(3), pol["playbooks"]["case_sla_breach"]["steps"].pop(2),
                     d.update(people=[p for p in d["people"] if p["role"] != "after_sales"])),
     'playbook "case_sla_breach" step 2: "queue:after_sales" is a queue nobody serves'),
    (lambda pol, _d: pol["playbooks"]["delivery"]["steps"].append({"action": "x", "owner": "queue:aftersales"}),
     'playbook "delivery" step 3: "queue:aftersales" names unknown department "aftersales"'),
    (lambda pol, _d: pol["routes"][0]["match"].update(department=["sales"]),
     "routes.1.match.department.1: Input should be 'after_sales'"),
    (lambda pol, d: d.update(people=[p for p in d["people"] if p["role"] != "tech_support"]),
     'targets "queue:tech_support" is a queue nobody serves'),
])
def test_department_mistakes_refuse_the_policy_in_one_line(make_policy, edit, message):
    with pytest.raises(ConfigError) as err:
        make_policy(edit)
    assert message in str(err.value) and "\n" not in str(err.value)


def _first_page(policy, **fields):
    ctx = fields.pop("ctx", None)
    p = plan(IncidentFields(severity=Severity.medium, category="case_sla_breach", **fields), ctx, policy)
    return p.route_name, [t.id for t in p.steps[0].targets]


@pytest.mark.parametrize("fields,route,first", [
    # a case the account rep owns: the owner alone at the first level
    (dict(region="north", ctx=CustomerContext(owner_rep_id="rep-2", region="north")), "case SLA breach", ["rep-2"]),
    # a queue's case: the department's people of the region (after-sales North), with the region's reps
    (dict(region="north", department="after_sales"), "case SLA breach, after-sales queue",
     ["rep-1", "rep-2", "after-sales-north"]),
    # no after-sales person for the south: the desk that serves every region
    (dict(region="south", department="after_sales"), "case SLA breach, after-sales queue",
     ["rep-3", "rep-4", "after-sales"]),
    (dict(region="east", department="tech_support"), "case SLA breach, technical support queue",
     ["rep-5", "rep-6", "tech-support"]),
    (dict(region="west", department="finance"), "case SLA breach, finance queue", ["rep-7", "rep-8", "finance"]),
])
def test_case_breaches_page_the_owner_or_the_department(shipped_policy, fields, route, first):
    assert _first_page(shipped_policy, **fields) == (route, first)


def test_other_incidents_do_not_page_departments(shipped_policy):
    p = plan(IncidentFields(severity=Severity.medium, category="delivery", region="north"),
             CustomerContext(owner_rep_id="rep-1"), shipped_policy)
    assert p.route_name == "medium and low"
    assert not {t.role for s in p.steps for t in s.targets} & set(DEPARTMENTS)


def test_case_breaches_never_storm_each_owner_is_paged(make_policy):
    """Many cases overdue at once in one region (a Monday morning): each owner is paged, no storm parent."""
    from datetime import timedelta

    from agents.escalation.simulate import Simulation
    from tests.unit.escalation.factories import T0, incident

    def edit(pol, _d):
        pol["storm"].update(threshold=3, window_minutes=10)
        for lv in pol["levels"]:
            lv.pop("calendar", None)
    sim = Simulation(make_policy(edit))
    for i in range(5):
        sim.incident(incident(f"case-breach:c{i}:first_response", category="case_sla_breach", severity=Severity.medium,
                              customer_id=f"cust-{i}", region="north", occurred_at=T0 + timedelta(minutes=i)),
                     T0 + timedelta(minutes=i))
    assert [(a.kind, a.level_name) for a in sim.alerts] == [("page", "account_rep")] * 5
    assert not any(k.startswith("storm:") for k in sim.states)
    # other categories in the same region still form one
    for i in range(3):
        sim.incident(incident(f"k{i}", region="north", customer_id=f"x-{i}", occurred_at=T0 + timedelta(minutes=6 + i)),
                     T0 + timedelta(minutes=6 + i))
    assert any(a.kind == "storm" for a in sim.alerts)
