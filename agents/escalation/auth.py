"""Tokens and scope: (token, directory) -> Person | Service; (reader, region, people) -> may see; -> may act."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from agents.escalation.directory import Directory, Person, Service
from agents.escalation.policy import Policy
from agents.escalation.state import IncidentState
from pipeline.tokens import hash_token

Reader = Person | Service


def authenticate(token: str | None, directory: Directory) -> Reader | None:
    """The person or service whose token this is, or None; compares every stored hash in constant time."""
    if not token:
        return None
    digest = hash_token(token)
    found = None
    for holder in (*directory.people, *directory.services):
        if holder.token_sha256 is not None and hmac.compare_digest(digest, holder.token_sha256):
            found = holder
    return found


def verify_token(token: str | None, directory: Directory) -> Person | None:
    """The person whose token this is, or None (a service token is no person)."""
    found = authenticate(token, directory)
    return found if isinstance(found, Person) else None


def may_read(reader: Reader, scope: str) -> bool:
    """People read every route (what they see is scoped); a service only what its scopes name."""
    return isinstance(reader, Person) or scope in reader.scopes


def in_scope(reader: Reader, region: str | None, people: Iterable[str], directory: Directory) -> bool:
    """May see a thing of `region` that names `people` (an incident's chain, a customer's owner rep, a KPI rep).

    The one rule behind every read and action: readers without a region cover every region (the
    director, a company-wide service); everyone else sees what is in their region, and what names
    them or someone of their team or region (incidents without a region go through the owner rep).
    """
    if reader.region is None or region == reader.region:
        return True
    for pid in people:
        if pid == reader.id:
            return True
        other = directory.person(pid)
        if other is not None and ((reader.team is not None and other.team == reader.team)
                                  or other.region == reader.region):
            return True
    return False


def incident_people(state: IncidentState) -> list[str]:
    """Everyone the incident's chain pages or informs."""
    return [t.id for step in state.plan.steps + state.plan.inform for t in step.targets]


def sees_incident(reader: Reader, state: IncidentState, directory: Directory) -> bool:
    return in_scope(reader, state.region, incident_people(state), directory)


def user_level(user: Person, policy: Policy) -> int | None:
    """The highest 0-based level whose targets name the person or their role; None if they are on no level."""
    levels = [i for i, lv in enumerate(policy.levels)
              if any(t.person == user.id or t.role == user.role for t in lv.targets)]
    return max(levels) if levels else None


def can_act(user: Reader, incident: IncidentState, policy: Policy) -> bool:
    """May ack / resolve: a person who may see the incident, and it sits at their level or below, or they were told."""
    if not isinstance(user, Person) or not sees_incident(user, incident, policy.directory):
        return False
    level = user_level(user, policy)
    if level is not None and incident.current.level <= level:
        return True
    told = incident.plan.steps[: incident.step + 1] if incident.loop == 0 else incident.plan.steps
    return any(t.id == user.id for step in told + incident.plan.inform for t in step.targets)
