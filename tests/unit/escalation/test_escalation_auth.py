"""API tokens and who may act on which incident."""

from __future__ import annotations

import pytest

from agents.escalation.auth import can_act, hash_token, user_level, verify_token
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
    (0, {"rep-1", "rep-3", "lead-north", "manager-north", "director"}),    # at level 1: anyone on a level
    (20, {"rep-1", "lead-north", "manager-north", "director", "lead-south"}),  # level 2: rep-1 was paged for it
    (50, {"rep-1", "lead-north", "manager-north", "director", "manager-south"}),
])
def test_can_act_on_incidents_at_their_level_or_below(policy, minutes, allowed):
    s, _ = on_incident(None, incident(severity=Severity.high), policy, None, at(0))
    s, _ = due(s, policy, at(minutes))
    d = policy.directory
    for pid in ("rep-1", "rep-3", "lead-north", "lead-south", "manager-north", "manager-south", "director"):
        if pid in allowed:
            assert can_act(d.person(pid), s, policy), pid
    assert not can_act(d.person("duty-officer"), s, policy)
    if minutes >= 20:
        assert not can_act(d.person("rep-3"), s, policy)   # never paged, below the incident's level
