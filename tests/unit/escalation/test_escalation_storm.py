"""Storm grouping: many new incidents on one sku / region -> one parent for the manager, children held back."""

from __future__ import annotations

from datetime import timedelta

from agents.escalation.machine import cascade, due, on_command, on_storm
from agents.escalation.policy import Storm
from agents.escalation.simulate import Simulation
from agents.escalation.storm import groups_of, observe
from schemas.events import Severity
from tests.unit.escalation.factories import T0, at, command, incident

STORM = Storm(group_by=("sku", "region"), window_minutes=10, threshold=3, level="sales_manager")


def test_groups_in_policy_order_skip_missing_fields():
    assert groups_of(incident(sku="SKU-1", region="north"), STORM) == ["sku=SKU-1", "region=north"]
    assert groups_of(incident(region=None), STORM) == []


def test_below_threshold_nothing_happens():
    w, v = observe(None, "sku=S", incident("a", sku="S"), STORM, at(0))
    w, v = observe(w, "sku=S", incident("b", sku="S"), STORM, at(1))
    assert v.held_by is None and v.storm is None and len(w.recent) == 2


def test_the_same_key_counts_once_and_old_incidents_leave_the_window():
    w = None
    for key, minute in (("a", 0), ("a", 1), ("b", 2)):
        w, v = observe(w, "sku=S", incident(key, sku="S"), STORM, at(minute))
    assert v.storm is None and [s.incident_key for s in w.recent] == ["a", "b"]
    w, v = observe(w, "sku=S", incident("c", sku="S"), STORM, at(12))   # "a" was last seen 11 min ago
    assert v.storm is None and [s.incident_key for s in w.recent] == ["b", "c"]


def test_threshold_opens_a_parent_and_holds_the_children():
    w = None
    for i, sev in enumerate([Severity.low, Severity.critical, Severity.medium]):
        w, v = observe(w, "sku=S", incident(f"k{i}", sku="S", severity=sev), STORM, at(i))
    assert v.held_by == v.storm.incident_key == "storm:sku=S:20261102T100200Z"
    assert v.storm.children == ("k0", "k1", "k2") and v.storm.severity == Severity.critical
    assert [(c.type, c.incident_key, c.parent_key) for c in v.merges] == [
        ("merge", "k0", v.held_by), ("merge", "k1", v.held_by)]
    # while the storm lasts, new incidents join it
    w, v2 = observe(w, "sku=S", incident("k3", sku="S"), STORM, at(9))
    assert v2.held_by == v.held_by and v2.storm.children == ("k3",) and v2.merges == ()
    # ten quiet minutes end it; counting starts afresh
    w, v3 = observe(w, "sku=S", incident("k4", sku="S"), STORM, at(20))
    assert v3.held_by is None and w.parent_key is None


def test_parent_pages_the_manager_level_once_and_grows(policy_24x7):
    w = None
    for i in range(3):
        w, v = observe(w, "region=north", incident(f"k{i}"), STORM, at(i))
    parent, alerts = on_storm(None, v.storm, policy_24x7, at(2))
    assert [(a.kind, a.level, a.level_name, a.customer_id) for a in alerts] == [("storm", 3, "sales_manager", None)]
    assert alerts[0].playbook.name == "storm" and parent.count == 3
    _, v2 = observe(w, "region=north", incident("k9"), STORM, at(5))
    parent2, again = on_storm(parent, v2.storm, policy_24x7, at(5))
    assert again == [] and parent2.children == ("k0", "k1", "k2", "k9") and parent2.count == 4
    parent3, more = due(parent2, policy_24x7, at(2 + 60))
    assert [(a.level, a.level_name) for a in more] == [(4, "director")]
    # resolving the parent resolves the children
    done, _ = on_command(parent3, command("resolve", parent3.incident_key, minutes=70), policy_24x7, at(70))
    kids = cascade(done, command("resolve", parent3.incident_key, minutes=70))
    assert [(c.type, c.incident_key) for c in kids] == [("resolve", k) for k in ("k0", "k1", "k2", "k9")]


def test_simulation_holds_back_per_customer_pages_during_a_storm(make_policy):
    def edit(pol, _d):
        pol["storm"].update(threshold=3, window_minutes=10)
        for lv in pol["levels"]:
            lv.pop("calendar", None)
    r = Simulation(make_policy(edit))
    for i in range(5):
        r.incident(incident(f"k{i}", sku="SKU-1", region=f"r{i}", occurred_at=T0 + timedelta(minutes=i)),
                   T0 + timedelta(minutes=i))
    first_pages = [(a.incident_key, a.kind) for a in r.alerts]
    parent = next(k for k in r.states if k.startswith("storm:"))
    assert first_pages == [("k0", "page"), ("k1", "page"), (parent, "storm")]
    assert {r.states[f"k{i}"].status for i in range(5)} == {"merged"}
    r.run_until(None)
    assert {a.incident_key for a in r.alerts} == {"k0", "k1", parent}   # children never escalate


def test_an_incident_in_two_groups_counts_in_both(make_policy):
    """As the worker does: every group the incident belongs to sees it, not only the first that holds it."""
    def edit(pol, _d):
        pol["storm"].update(threshold=3, window_minutes=10)
        for lv in pol["levels"]:
            lv.pop("calendar", None)
    r = Simulation(make_policy(edit))
    for i in range(4):
        r.incident(incident(f"k{i}", sku="SKU-1", region="north", occurred_at=T0 + timedelta(minutes=i)),
                   T0 + timedelta(minutes=i))
    storms = [a.incident_key for a in r.alerts if a.kind == "storm"]
    assert [k.split(":")[1] for k in storms] == ["sku=SKU-1", "region=north"]
    assert [(a.incident_key, a.kind) for a in r.alerts if a.kind != "storm"] == [("k0", "page"), ("k1", "page")]
    sku_parent, region_parent = storms
    assert r.states["k2"].parent_key == r.states["k3"].parent_key == sku_parent   # the first group holds it
    assert r.states[region_parent].children == r.states[sku_parent].children == ("k0", "k1", "k2", "k3")
