"""API tokens, service tokens, the scope rule and who may act on which incident."""

from __future__ import annotations

import pytest

from agents.escalation.auth import (authenticate, can_act, hash_token, in_scope, may_read, sees_incident, user_level,
                                    verify_token)
from agents.escalation.directory import Service
from agents.escalation.machine import due, on_incident
from schemas.events import Severity
from tests.unit.escalation.factories import at, incident


@pytest.fixture
def policy(make_policy):
    def edit(pol, d):
        for p in d["people"]:
            if p["id"] in ("rep-1", "lead-north", "manager-north", "director"):
                p["token_sha256"] = hash_token(f"token-of-{p['id']}")
        for lv in pol["levels"]:
            lv.pop("calendar", None)
    return make_policy(edit)


def test_tokens_are_checked_against_hashes(policy):
    assert verify_token("token-of-rep-1", policy.directory).id == "rep-1"
    assert verify_token("token-of-director", policy.directory).id == "director"
    assert verify_token("token-of-rep-2", policy.directory) is None
    assert verify_token("", policy.directory) is None and verify_token(None, policy.directory) is None


def test_levels_of_people(policy):
    d = policy.directory
    assert [user_level(d.person(p), policy) for p in ("rep-1", "lead-north", "director", "duty-officer")] == [0, 1, 3, None]


@pytest.mark.parametrize("minutes,allowed", [
    (0, {"rep-1", "rep-2", "lead-north", "manager-north", "director"}),   # level 1: anyone on a level, in scope
    (20, {"rep-1", "rep-2", "lead-north", "manager-north", "director"}),  # level 2: the north reps were paged for it
    (50, {"rep-1", "rep-2", "lead-north", "manager-north", "director"}),
])
def test_can_act_on_incidents_at_their_level_or_below_in_their_scope(policy, minutes, allowed):
    s, _ = on_incident(None, incident(severity=Severity.high), policy, None, at(0))
    s, _ = due(s, policy, at(minutes))
    d = policy.directory
    people = ("rep-1", "rep-2", "rep-3", "lead-north", "lead-south", "manager-north", "manager-south", "director")
    assert {pid for pid in people if can_act(d.person(pid), s, policy)} == allowed
    assert not can_act(d.person("duty-officer"), s, policy)


@pytest.mark.parametrize("minutes", [0, 20, 50])
def test_another_regions_people_may_not_act_whatever_their_level(policy, minutes):
    """A south rep, lead or manager has the level for a north incident but not the scope (issue 22)."""
    s, _ = on_incident(None, incident(severity=Severity.high), policy, None, at(0))
    s, _ = due(s, policy, at(minutes))
    d = policy.directory
    for pid in ("rep-3", "lead-south", "manager-south"):
        assert not sees_incident(d.person(pid), s, d) and not can_act(d.person(pid), s, policy), pid
    assert sees_incident(d.person("director"), s, d)


def test_scope_follows_region_team_and_chain(policy):
    d = policy.directory
    rep1, lead_n, mgr_s, director = (d.person(p) for p in ("rep-1", "lead-north", "manager-south", "director"))
    assert in_scope(rep1, "north", [], d) and not in_scope(rep1, "south", [], d)
    assert in_scope(rep1, None, ["rep-1"], d)            # names them (an incident without a region, their customer)
    assert in_scope(lead_n, "east", ["rep-2"], d)        # names someone of their team
    assert in_scope(mgr_s, None, ["rep-4"], d)           # names someone of their region
    assert not in_scope(mgr_s, "north", ["rep-1", "director"], d)  # the director covers all, but is no southerner
    assert in_scope(director, "anywhere", [], d)


def test_service_tokens_read_their_scopes_and_never_act(make_policy):
    def edit(pol, d):
        d["services"] = [{"id": "grafana", "name": "Grafana", "scopes": ["read:kpis"], "region": "south",
                          "token_sha256": hash_token("svc-token")}]
        for lv in pol["levels"]:
            lv.pop("calendar", None)
    policy = make_policy(edit)
    svc = authenticate("svc-token", policy.directory)
    assert isinstance(svc, Service) and svc.id == "grafana"
    assert verify_token("svc-token", policy.directory) is None   # no person
    assert may_read(svc, "read:kpis") and not may_read(svc, "read:incidents")
    assert in_scope(svc, "south", [], policy.directory) and not in_scope(svc, "north", [], policy.directory)
    s, _ = on_incident(None, incident(severity=Severity.high, region="south"), policy, None, at(0))
    assert not can_act(svc, s, policy)


@pytest.mark.parametrize("bad,message", [
    ({"scopes": ["write:all"]}, "scopes"),
    ({"scopes": []}, "scopes"),
    ({"token_sha256": "not-a-hash"}, "64 lowercase hex"),
    ({"id": "rep-1"}, "repeats id 'rep-1'"),
    ({"token_sha256": hash_token("token-of-rep-1")}, "share one API token"),
])
def test_the_services_section_is_checked_at_start_up(make_policy, bad, message):
    from agents.escalation.policy import ConfigError

    def edit(pol, d):
        d["people"][0]["token_sha256"] = hash_token("token-of-rep-1")
        d["services"] = [{"id": "bi", "name": "BI", "scopes": ["read:kpis"], "token_sha256": hash_token("x"), **bad}]
    with pytest.raises(ConfigError, match=message):
        make_policy(edit)
