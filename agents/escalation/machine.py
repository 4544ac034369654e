"""The escalation state machine: (state | None, incident | command | clock, policy, now) -> (state, [EscalationAlert])."""

from __future__ import annotations

import uuid
from datetime import datetime

from agents.escalation.calendar import add_time
from agents.escalation.policy import Policy
from agents.escalation.routing import CustomerContext, IncidentFields, Step, plan
from agents.escalation.state import IncidentState
from schemas.escalation import AlertKind, EscalationAlert, IncidentCommand, IncidentStorm, notification_id
from schemas.events import IncidentEvent

Result = tuple[IncidentState, list[EscalationAlert]]


def _alert(s: IncidentState, step: Step, kind: AlertKind, reason: str, at: datetime,
           ack_by: datetime | None) -> EscalationAlert:
    nid = notification_id(s.incident_key, step.level + 1, s.loop, s.epoch, kind)
    return EscalationAlert(
        event_id=nid, notification_id=nid, occurred_at=at, at=at, kind=kind, incident_key=s.incident_key,
        epoch=s.epoch, level=step.level + 1, level_name=step.name, loop=s.loop, targets=step.targets,
        reason=reason[:500], ack_by=ack_by, severity=s.severity, title=s.title, category=s.category,
        customer_id=s.customer_id, region=s.region, sku=s.sku, count=s.count, playbook=s.plan.playbook,
    )


def _page(s: IncidentState, policy: Policy, at: datetime, reason: str, kind: AlertKind = "page") -> Result:
    """Page the current step of `s` at `at` and arm its deadline."""
    step = s.current
    deadline = add_time(policy.calendar(step.calendar), at, step.timeout_seconds)
    s = s.model_copy(update={"deadline": deadline})
    return s, [_alert(s, step, kind, reason, at, deadline)]


def _start(s: IncidentState, policy: Policy, at: datetime, reason: str, kind: AlertKind = "page") -> Result:
    """Page the starting level (loop 0) and inform the route's `also_inform` levels at once."""
    s = s.model_copy(update={"status": "triggered", "loop": 0, "step": 0, "deadline": None})
    s, alerts = _page(s, policy, at, reason, kind)
    for step in s.plan.inform:
        alerts.append(_alert(s, step, "inform", f"{s.severity.value} incident: {step.name} informed at once", at, None))
    return s, alerts


def _describe(s: IncidentState) -> str:
    p = s.plan
    extra = f"; {', '.join(p.boosts)}" if p.boosts else ""
    return f"new {s.severity.value} {s.category} incident ({p.route_name}{extra})"


def on_incident(state: IncidentState | None, event: IncidentEvent, policy: Policy,
                customer: CustomerContext | None, now: datetime, *, held_by: str | None = None) -> Result:
    """New key -> page the start level; same key while open -> merge (count, last_seen, no page); resolved -> re-open.

    `held_by`: a storm's parent key; the incident is recorded as merged into it and nobody is paged.
    """
    if state is not None and state.is_open:
        return state.model_copy(update={"count": state.count + 1,
                                        "last_seen": max(state.last_seen, event.occurred_at)}), []
    p = plan(IncidentFields.of(event), customer, policy)
    if state is None:
        s = IncidentState(incident_key=event.incident_key, severity=event.severity, category=event.category,
                          title=event.title, customer_id=event.customer_id, region=event.region, sku=event.sku,
                          first_seen=event.occurred_at, last_seen=event.occurred_at, plan=p)
        reason = _describe(s)
    else:
        s = state.model_copy(update={
            "epoch": state.epoch + 1, "count": state.count + 1, "last_seen": max(state.last_seen, event.occurred_at),
            "severity": event.severity, "title": event.title, "plan": p, "acked_by": None, "acked_at": None,
            "resolved_by": None, "resolved_at": None, "parent_key": None})
        reason = f"re-opened: the incident happened again after it was resolved ({p.route_name})"
    if held_by is not None:
        return s.model_copy(update={"status": "merged", "parent_key": held_by, "deadline": None}), []
    return _start(s, policy, now, reason)


def due(state: IncidentState, policy: Policy, now: datetime) -> Result:
    """Fire every level timeout at or before `now`, each alert stamped with the moment it fell due."""
    s, out = state, []
    while s.status == "triggered" and s.deadline is not None and s.deadline <= now:
        at, timed_out = s.deadline, s.current
        why = f"level {timed_out.level + 1} ({timed_out.name}) did not acknowledge within " \
              f"{timed_out.timeout_seconds / 60:g} min"
        if s.step + 1 < len(s.plan.steps):
            s = s.model_copy(update={"step": s.step + 1})
        elif s.loop < s.plan.repeat:
            s = s.model_copy(update={"step": 0, "loop": s.loop + 1})
            why += f"; repeating the chain ({s.loop} of {s.plan.repeat})"
        else:  # the last level of the last loop timed out: it stays open, nobody is left to page
            s = s.model_copy(update={"deadline": None})
            break
        s, alerts = _page(s, policy, at, why)
        out.extend(alerts)
    return s, out


def on_command(state: IncidentState, cmd: IncidentCommand, policy: Policy, now: datetime) -> Result:
    """ack stops escalation, resolve closes, reopen restarts the chain, merge holds the incident under a parent.

    Commands that change nothing (ack twice, resolve a resolved incident) return the state unchanged.
    """
    s = state
    if cmd.type == "ack" and s.status in ("triggered", "merged"):
        return s.model_copy(update={"status": "acknowledged", "acked_by": cmd.by,
                                    "acked_at": cmd.occurred_at, "deadline": None}), []
    if cmd.type == "resolve" and s.status != "resolved":
        return s.model_copy(update={"status": "resolved", "resolved_by": cmd.by,
                                    "resolved_at": cmd.occurred_at, "deadline": None}), []
    if cmd.type == "merge" and s.status == "triggered" and cmd.parent_key not in (None, s.incident_key):
        return s.model_copy(update={"status": "merged", "parent_key": cmd.parent_key, "deadline": None}), []
    if cmd.type == "reopen" and s.status in ("acknowledged", "resolved"):
        s = s.model_copy(update={"epoch": s.epoch + 1, "acked_by": None, "acked_at": None, "resolved_by": None,
                                 "resolved_at": None, "parent_key": None, "last_seen": max(s.last_seen, now)})
        return _start(s, policy, now, f"re-opened by {cmd.by}" + (f": {cmd.comment}" if cmd.comment else ""))
    return s, []


def on_storm(state: IncidentState | None, storm: IncidentStorm, policy: Policy, now: datetime) -> Result:
    """A storm's parent incident: created at the storm level and paged once; later storm events update the count."""
    if state is not None and state.is_open:
        kids = tuple(dict.fromkeys(state.children + storm.children))
        return state.model_copy(update={"children": kids, "count": max(state.count, len(kids)),
                                        "last_seen": max(state.last_seen, storm.occurred_at)}), []
    fields = IncidentFields(severity=storm.severity, category=storm.category, region=storm.region, sku=storm.sku)
    p = plan(fields, None, policy, start_at=storm.level_name)
    s = IncidentState(incident_key=storm.incident_key, severity=storm.severity, category=storm.category,
                      title=storm.title, region=storm.region, sku=storm.sku, count=len(storm.children),
                      first_seen=storm.occurred_at, last_seen=storm.occurred_at, plan=p, children=storm.children,
                      epoch=state.epoch + 1 if state is not None else 0)
    return _start(s, policy, now, storm.reason, kind="storm")


def cascade(parent: IncidentState, cmd: IncidentCommand) -> list[IncidentCommand]:
    """Resolving a storm's parent resolves the incidents it held back: one command per child."""
    if cmd.type != "resolve" or not parent.children:
        return []
    return [IncidentCommand(event_id=uuid.uuid5(cmd.event_id, k), occurred_at=cmd.occurred_at, type="resolve",
                            incident_key=k, by=cmd.by, comment=f"resolved with storm {parent.incident_key}")
            for k in parent.children]

