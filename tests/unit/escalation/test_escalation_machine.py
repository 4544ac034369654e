"""State machine examples: trigger, escalate, ack, resolve, re-open, merge, repeat, restart."""

from __future__ import annotations

import json

from agents.escalation.machine import due, on_command, on_incident
from agents.escalation.routing import CustomerContext
from agents.escalation.state import IncidentState, next_deadline
from schemas.escalation import notification_id
from schemas.events import Severity
from tests.unit.escalation.factories import at, command, incident


def run(state, policy, until):
    """Sweep once at `until` (as a late worker would) and return the new state and alerts."""
    return due(state, policy, until)


def test_new_incident_pages_start_level_and_arms_deadline(policy_24x7):
    s, alerts = on_incident(None, incident(), policy_24x7, None, at(0))
    assert [(a.level, a.level_name, a.loop, a.kind) for a in alerts] == [(1, "account_rep", 0, "page")]
    assert [t.id for t in alerts[0].targets] == ["rep-1", "rep-2"]
    assert alerts[0].playbook.name == "delivery"
    assert next_deadline(s) == at(15) == alerts[0].ack_by


def test_each_timeout_pages_the_next_level_at_its_due_time_even_when_swept_late(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s, alerts = run(s, policy_24x7, at(1000))
    got = [(a.level, a.loop, a.at) for a in alerts]
    assert got == [(2, 0, at(15)), (3, 0, at(45)), (4, 0, at(105)),        # first pass
                   (1, 1, at(225)), (2, 1, at(240)), (3, 1, at(270)),     # repeat once from the start level
                   (4, 1, at(330))]
    assert "repeating the chain (1 of 1)" in alerts[3].reason
    assert next_deadline(s) is None and s.status == "triggered"        # nobody left; still open
    assert run(s, policy_24x7, at(5000))[1] == []


def test_sweeping_twice_pages_nothing_new(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s, first = run(s, policy_24x7, at(20))
    s, again = run(s, policy_24x7, at(20))
    assert len(first) == 1 and again == []


def test_ack_stops_escalation(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s, _ = run(s, policy_24x7, at(20))
    s, out = on_command(s, command("ack", minutes=21), policy_24x7, at(21))
    assert out == [] and s.status == "acknowledged" and s.acked_by == "lead-north"
    assert next_deadline(s) is None
    assert run(s, policy_24x7, at(10_000)) == (s, [])
    assert on_command(s, command("ack", minutes=22, by="rep-1"), policy_24x7, at(22)) == (s, [])  # no-op


def test_same_key_while_open_merges_without_paging(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s2, out = on_incident(s, incident(minutes=5, severity=Severity.critical), policy_24x7, None, at(5))
    assert out == [] and s2.count == 2 and s2.last_seen == at(5) and s2.deadline == s.deadline
    s3, _ = on_command(s2, command("ack", minutes=6), policy_24x7, at(6))
    s4, out = on_incident(s3, incident(minutes=7), policy_24x7, None, at(7))
    assert out == [] and s4.count == 3 and s4.status == "acknowledged"


def test_resolve_then_same_key_reopens_with_a_new_epoch(policy_24x7):
    s, first = on_incident(None, incident(), policy_24x7, None, at(0))
    s, _ = on_command(s, command("resolve", minutes=3), policy_24x7, at(3))
    assert s.status == "resolved" and s.resolved_by == "lead-north"
    s, again = on_incident(s, incident(minutes=60, severity=Severity.critical), policy_24x7, None, at(60))
    assert s.status == "triggered" and s.epoch == 1 and s.count == 2
    assert [(a.level, a.kind) for a in again] == [(2, "page"), (4, "inform")]   # routed afresh as critical
    assert again[0].notification_id != first[0].notification_id
    assert "re-opened" in again[0].reason


def test_reopen_command_restarts_the_chain(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s, _ = on_command(s, command("ack", minutes=1), policy_24x7, at(1))
    s, out = on_command(s, command("reopen", minutes=30, comment="customer called again"), policy_24x7, at(30))
    assert s.status == "triggered" and s.acked_by is None and s.epoch == 1
    assert [(a.level, a.loop, a.epoch) for a in out] == [(1, 0, 1)]
    assert out[0].reason == "re-opened by lead-north: customer called again"
    assert on_command(s, command("reopen", minutes=31), policy_24x7, at(31)) == (s, [])  # already open


def test_critical_informs_the_director_at_once_with_its_own_id(policy_24x7):
    s, alerts = on_incident(None, incident(severity=Severity.critical), policy_24x7, None, at(0))
    page, inform = alerts
    assert (page.level, inform.level, inform.kind, inform.ack_by) == (2, 4, "inform", None)
    s, later = run(s, policy_24x7, at(90))
    director_page = later[-1]
    assert (director_page.level, director_page.kind) == (4, "page")
    assert director_page.notification_id != inform.notification_id


def test_notification_ids_are_deterministic(policy_24x7):
    runs = []
    for _ in range(2):
        s, a = on_incident(None, incident(), policy_24x7, None, at(0))
        s, b = run(s, policy_24x7, at(100))
        runs.append([x.notification_id for x in a + b])
    assert runs[0] == runs[1]
    assert runs[0][0] == notification_id("inc-1", 1, 0)
    assert runs[0][1] == notification_id("inc-1", 2, 0)


def test_state_survives_a_json_round_trip_mid_escalation(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, CustomerContext(segment="Champions"), at(0))
    s, _ = run(s, policy_24x7, at(40))
    restored = IncidentState.from_dict(json.loads(json.dumps(s.to_dict())))
    assert restored == s
    assert run(restored, policy_24x7, at(500)) == run(s, policy_24x7, at(500))


def test_in_flight_incidents_keep_their_chain_when_the_policy_changes(policy_24x7, make_policy):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))

    def faster(pol, _d):
        for lv in pol["levels"]:
            lv["ack_timeout_minutes"] = 1
            lv.pop("calendar", None)
    _, alerts = run(s, make_policy(faster), at(16))
    assert [a.at for a in alerts] == [at(15)]


def test_merged_incident_is_held_back_until_acked(policy_24x7):
    s, out = on_incident(None, incident(), policy_24x7, None, at(0), held_by="storm:sku=X:1")
    assert out == [] and s.status == "merged" and s.parent_key == "storm:sku=X:1" and next_deadline(s) is None
    s, _ = on_command(s, command("ack", minutes=5), policy_24x7, at(5))
    assert s.status == "acknowledged"


def test_merge_command_stops_an_escalating_child(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s, out = on_command(s, command("merge", minutes=2, by="storm-grouper", parent_key="storm:p"), policy_24x7, at(2))
    assert out == [] and s.status == "merged"
    assert run(s, policy_24x7, at(999))[1] == []


def test_snapshot_for_the_api(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    s, _ = run(s, policy_24x7, at(20))
    snap = s.snapshot()
    assert (snap.status, snap.level, snap.level_name, snap.loop, snap.deadline) == (
        "triggered", 2, "team_lead", 0, at(45))


def test_wire_models_round_trip_through_json(policy_24x7):
    from schemas.escalation import CONTROL_ADAPTER, EscalationAlert, IncidentCommand

    _, alerts = on_incident(None, incident(severity=Severity.critical), policy_24x7, None, at(0))
    for a in alerts:
        assert EscalationAlert.model_validate_json(a.model_dump_json()) == a
        assert a.event_id == a.notification_id and a.occurred_at == a.at
    cmd = command("merge", by="storm-grouper", parent_key="storm:p")
    assert CONTROL_ADAPTER.validate_json(cmd.model_dump_json()) == cmd
    assert cmd.key == "inc-1"
    import pydantic
    import pytest
    with pytest.raises(pydantic.ValidationError, match="parent_key is required for merge"):
        IncidentCommand(occurred_at=at(0), type="merge", incident_key="k", by="x")
