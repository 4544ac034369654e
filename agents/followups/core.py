"""(follow-up state, action, now) -> the new state's fields or a refusal; (owner, region, directory) -> assignee;
(follow-ups, now) -> what the sweep wakes and escalates. No clock, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from agents.escalation.directory import Directory, Person
from schemas.customers import FollowUpTask, stable_id
from schemas.events import Channel, IncidentEvent, Severity

State = Literal["open", "in_progress", "done", "snoozed", "dismissed"]
STATES: tuple[str, ...] = ("open", "in_progress", "done", "snoozed", "dismissed")
ACTIVE = ("open", "in_progress")   # what can be overdue
FINAL = ("done", "dismissed")
Action = Literal["start", "done", "snooze", "dismiss"]
# action -> (states it may leave, the state it enters); done and dismissed are final
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("open",), "in_progress"),
    "done": (("open", "in_progress"), "done"),
    "snooze": (("open", "in_progress"), "snoozed"),
    "dismiss": (("open", "in_progress", "snoozed"), "dismissed"),
}
ACTIONS: tuple[str, ...] = tuple(TRANSITIONS)
QUEUE = "queue:"
OVERDUE_CATEGORY = "followup_overdue"


class Refused(ValueError):
    """An action the request itself gets wrong (a snooze into the past, a dismissal without a reason)."""


@dataclass(frozen=True, slots=True)
class Change:
    """The fields a transition writes, and the states it may be applied to (the UPDATE's WHERE)."""

    sources: tuple[str, ...]
    values: dict


def transition(action: str, now: datetime, until: datetime | None = None, reason: str | None = None) -> Change:
    """What `action` writes at `now`; Refused when its arguments are wrong. Whether the current state allows it
    is the store's conditional UPDATE (`Change.sources`), so two actors racing cannot both win."""
    if action not in TRANSITIONS:
        raise Refused(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    sources, target = TRANSITIONS[action]
    values: dict = {"state": target, "updated_at": now}
    if action == "snooze":
        if until is None or until.tzinfo is None:
            raise Refused('snooze needs "until": an ISO 8601 time with a timezone')
        if until <= now:
            raise Refused(f"snooze until {until.isoformat()} is not in the future")
        values["snoozed_until"] = until
    elif action == "dismiss":
        text = (reason or "").strip()
        if not text:
            raise Refused('dismiss needs a "reason"')
        values["dismiss_reason"] = text[:500]
    elif action == "done":
        values["done_at"] = now
    return Change(sources, values)


def allowed(action: str, state: str) -> bool:
    return action in TRANSITIONS and state in TRANSITIONS[action][0]


def wake(state: str, snoozed_until: datetime | None, now: datetime) -> bool:
    """A snoozed follow-up opens again once its time has come (the sweep)."""
    return state == "snoozed" and snoozed_until is not None and snoozed_until <= now


def overdue(state: str, due_at: datetime, escalated_at: datetime | None, now: datetime) -> bool:
    """Due time passed while still to do, and not escalated yet: raise the overdue incident (once)."""
    return state in ACTIVE and escalated_at is None and due_at < now


@dataclass(frozen=True, slots=True)
class Assignment:
    assignee: str
    team: str | None
    region: str | None


def assign(owner_rep_id: str | None, region: str | None, directory: Directory) -> Assignment:
    """The owner rep when the directory knows them; else the customer's region's queue (`queue:<region>`,
    `queue:unassigned` without a region)."""
    owner = directory.person(owner_rep_id)
    if owner is not None:
        return Assignment(owner.id, owner.team, region or owner.region)
    return Assignment(f"{QUEUE}{region or 'unassigned'}", None, region)


def new_row(task: FollowUpTask, partition: int | None, directory: Directory, due_hours: float | None
            ) -> tuple[FollowUpTask, dict]:
    """A raised FollowUpTask -> (the task with its due time per reason, its row: open and assigned); `due_hours`
    None keeps the due time the deciding capability gave. Used by the worker's sink and the offline replay alike."""
    a = assign(task.owner_rep_id, task.region, directory)
    due = task.occurred_at + timedelta(hours=due_hours) if due_hours is not None else task.due_at
    if due != task.due_at:
        task = task.model_copy(update={"due_at": due})
    return task, {"event_id": str(task.event_id), "customer_id": task.customer_id, "reason": task.reason.value,
                  "owner_rep_id": task.owner_rep_id, "created_at": task.occurred_at, "due_at": due,
                  "task": task.model_dump(mode="json"), "state": "open", "assignee": a.assignee, "region": a.region,
                  "team": a.team, "partition": partition, "updated_at": task.occurred_at}


def assignee_team(assignee: str, region: str | None, directory: Directory) -> str | None:
    """The team an overdue follow-up escalates in: the assignee's, else that of the region's team lead(s)."""
    person = directory.person(assignee)
    if person is not None and person.team:
        return person.team
    leads = {p.team for p in directory.people if p.role == "team_lead" and p.region == region and p.team}
    return leads.pop() if len(leads) == 1 else None


def overdue_incident(row: dict, now: datetime, severity: str, directory: Directory) -> IncidentEvent:
    """The low-severity incident of an overdue follow-up: deterministic key, so a resend merges into it."""
    key = f"followup-overdue:{row['event_id']}"
    return IncidentEvent(
        event_id=stable_id("followup-overdue", row["event_id"]), occurred_at=now, channel=Channel.partner,
        customer_id=row["customer_id"], incident_key=key, severity=Severity(severity), category=OVERDUE_CATEGORY,
        title=f"Follow-up overdue: {row['reason']} for {row['customer_id']} ({row['assignee']})"[:500],
        description=f"due {row['due_at'].isoformat()}, state {row['state']}; {row.get('detail') or ''}"[:2000],
        region=row.get("region"), team=row.get("team") or assignee_team(row["assignee"], row.get("region"), directory),
    )


def may_see(reader, assignee: str | None, region: str | None, team: str | None) -> bool:
    """A rep: their own and their region's queue; leads and managers: their team, or their region; no region: all.
    A service: its region (or every region)."""
    if reader.region is None:
        return True
    if assignee is not None and assignee == getattr(reader, "id", None):
        return True
    if not isinstance(reader, Person):
        return region == reader.region
    if reader.role == "account_rep":
        return assignee == f"{QUEUE}{reader.region}"
    if reader.team is not None and team == reader.team:
        return True
    return region == reader.region
