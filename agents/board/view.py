"""(person, IncidentState, customer facts, now) -> what the board shows: who sees what, in which order."""

from __future__ import annotations

from datetime import datetime

from agents.escalation.auth import can_act, user_level
from agents.escalation.directory import Person
from agents.escalation.policy import Policy
from agents.escalation.state import IncidentState, next_deadline
from schemas.events import Severity

SEVERITY_RANK = {s.value: rank for rank, s in enumerate(Severity)}  # the enum lists the worst first


def visible(person: Person, state: IncidentState, policy: Policy) -> bool:
    """Open, and the person may act on it: the rule POST /incidents/{key}/ack applies (scope and level)."""
    return state.is_open and can_act(person, state, policy)


def me(person: Person, policy: Policy) -> dict:
    level = user_level(person, policy)
    return {"id": person.id, "name": person.name, "role": person.role, "team": person.team,
            "region": person.region, "level": None if level is None else level + 1,
            "level_name": None if level is None else policy.levels[level].name}


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def item(state: IncidentState, customer: dict | None, feedback: list[dict]) -> dict:
    """One card: the incident, where it is in its chain, its playbook, the customer's facts (or None)."""
    plan = state.plan
    chain = [{"level": s.level + 1, "name": s.name, "people": [t.name for t in s.targets],
              "timeout_seconds": s.timeout_seconds, "current": i == state.step}
             for i, s in enumerate(plan.steps)]
    pb = plan.playbook
    return {
        "incident_key": state.incident_key, "status": state.status, "severity": state.severity.value,
        "category": state.category, "title": state.title, "customer_id": state.customer_id,
        "region": state.region, "sku": state.sku, "count": state.count,
        "first_seen": _iso(state.first_seen), "last_seen": _iso(state.last_seen),
        "level": state.current.level + 1, "level_name": state.current.name, "loop": state.loop,
        "next_deadline": _iso(next_deadline(state)),
        "acked_by": state.acked_by, "acked_at": _iso(state.acked_at),
        "parent_key": state.parent_key, "children": len(state.children),
        "route": plan.route_name, "boosts": list(plan.boosts), "chain": chain,
        "informed": [{"name": s.name, "people": [t.name for t in s.targets]} for s in plan.inform],
        "playbook": None if pb is None else {
            "name": pb.name, "summary": pb.summary,
            "steps": [{"action": s.action, "owner": s.owner} for s in pb.steps]},
        "customer": customer, "feedback": feedback,
    }


def sort_key(card: dict) -> tuple:
    """Most severe first, then highest level, then the nearest deadline, then the oldest."""
    return (SEVERITY_RANK.get(card["severity"], 9), -card["level"], card["next_deadline"] or "~",
            card["first_seen"] or "")
