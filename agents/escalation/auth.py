"""API tokens and permissions: (token, directory) -> Person; (person, incident, policy) -> may act or not."""

from __future__ import annotations

import hashlib
import hmac

from agents.escalation.directory import Directory, Person
from agents.escalation.policy import Policy
from agents.escalation.state import IncidentState


def hash_token(token: str) -> str:
    """What goes into directory.yaml as token_sha256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def verify_token(token: str | None, directory: Directory) -> Person | None:
    """The person whose token this is, or None; compares every stored hash in constant time."""
    if not token:
        return None
    digest = hash_token(token)
    found = None
    for p in directory.people:
        if p.token_sha256 is not None and hmac.compare_digest(digest, p.token_sha256):
            found = p
    return found


def user_level(user: Person, policy: Policy) -> int | None:
    """The highest 0-based level whose targets name the person or their role; None if they are on no level."""
    levels = [i for i, lv in enumerate(policy.levels)
              if any(t.person == user.id or t.role == user.role for t in lv.targets)]
    return max(levels) if levels else None


def can_act(user: Person, incident: IncidentState, policy: Policy) -> bool:
    """May ack / resolve: the incident sits at the user's level or below it, or the user has already been told."""
    level = user_level(user, policy)
    if level is not None and incident.current.level <= level:
        return True
    told = incident.plan.steps[: incident.step + 1] if incident.loop == 0 else incident.plan.steps
    return any(t.id == user.id for step in told + incident.plan.inform for t in step.targets)
