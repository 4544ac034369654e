"""(classified feedback, customer context | clock, now) -> cases opened or updated, SLA breaches and their
incidents: the one core that the worker (Kafka, SQL, wall clock) and `salespulse cases replay` (virtual
clock, memory) both drive. Reads no clock, sends nothing, stores nothing outside itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

from agents.cases.config import CasesConfig
from agents.escalation.calendar import Calendar, add_time
from agents.escalation.directory import Directory, queue_of
from agents.escalation.routing import CustomerContext
from schemas.events import Channel, IncidentEvent
from schemas.feedback import ClassifiedFeedback

# Fixed namespace: the same opening feedback always names the same case, and a breach the same incident event
NAMESPACE = uuid.UUID("0b7f3c52-81a9-5d0e-a3c6-7e2f19d4c8a1")
CATEGORY = "case_sla_breach"
State = Literal["open", "responded", "resolved"]
Which = Literal["first_response", "resolution"]
OPEN: tuple[str, ...] = ("open", "responded")
# an action -> the states it may start from, and the state it leads to
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "respond": (("open",), "responded"),
    "resolve": (("open", "responded"), "resolved"),
}
_RANK = {None: 0, "first_response": 1, "resolution": 2}
KEEP_IDS = 50  # feedback ids a case remembers, so a redelivered message is not counted twice


def case_id(customer_id: str, category: str, opened_by: uuid.UUID | str) -> str:
    """Stable: the customer, the category and the feedback that opened it."""
    return str(uuid.uuid5(NAMESPACE, f"case|{customer_id}|{category}|{opened_by}"))


def breach_key(cid: str, which: str) -> str:
    return f"case-breach:{cid}:{which}"


def next_state(state: str, action: str) -> str | None:
    """The state `action` leads to from `state`, or None when it does not fit (the API's 409)."""
    allowed, to = ACTIONS[action]
    return to if state in allowed else None


@dataclass(slots=True)
class Case:
    case_id: str
    customer_id: str
    category: str
    owner: str                       # a person id, or queue:<department>
    region: str | None
    team: str | None
    partition: int
    channel: str
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    last_feedback_at: datetime
    updated_at: datetime
    state: str = "open"
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    feedback_count: int = 1
    incident_key: str | None = None
    breach: str | None = None        # the latest SLA missed: first_response, then resolution
    escalated_at: datetime | None = None
    segment: str | None = None
    feedback_ids: list[str] = field(default_factory=list)

    def row(self) -> dict:
        """The cases row: every field, the ids list copied (the case changes on after the row is
        queued). Not `dataclasses.asdict`, which deep-copies each value (128 against 4 us here), once per
        classified feedback on the worker's event loop."""
        row = {name: getattr(self, name) for name in _CASE_FIELDS}
        row["feedback_ids"] = list(self.feedback_ids)
        return row

    @classmethod
    def from_row(cls, row) -> "Case":
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in dict(row).items() if k in names}
        data["feedback_ids"] = list(data.get("feedback_ids") or [])
        return cls(**data)

    @property
    def department(self) -> str | None:
        return self.owner[len("queue:"):] if self.owner.startswith("queue:") else None


_CASE_FIELDS = tuple(f.name for f in fields(Case))


@dataclass(frozen=True, slots=True)
class Change:
    """A case as one feedback left it: `opened` (a new case) or `updated` (merged into the open one)."""

    case: Case
    event: Literal["opened", "updated"]


@dataclass(frozen=True, slots=True)
class Breach:
    case: Case
    which: Which
    due: datetime


class CaseCore:
    """Cases not yet resolved, one per (customer, category); every decision takes `now`."""

    def __init__(self, config: CasesConfig, calendar: Calendar | None, directory: Directory) -> None:
        self.config = config
        self.calendar = calendar
        self.directory = directory
        self.open: dict[tuple[str, str], Case] = {}

    # -- inputs -----------------------------------------------------------------------
    def needs_case(self, cf: ClassifiedFeedback) -> bool:
        o = self.config.opens
        return (cf.sentiment in o.sentiments and cf.urgency in o.urgencies
                and (o.categories is None or cf.category in o.categories))

    def owner(self, category: str, ctx: CustomerContext | None) -> tuple[str, str | None]:
        """(owner, team): the customer's account rep when the directory knows them, else the category's queue."""
        rep = self.directory.person(ctx.owner_rep_id if ctx else None)
        if rep is not None:
            return rep.id, rep.team
        return queue_of(self.config.department(category)), None

    def on_classified(self, cf: ClassifiedFeedback, ctx: CustomerContext | None, partition: int,
                      incident_key: str | None, now: datetime) -> Change | None:
        """Open a case, or merge the feedback into the customer's open case of its category; None when the
        feedback needs no answer or was counted already. Deadlines run from when the customer wrote."""
        if not self.needs_case(cf):
            return None
        key = (cf.customer_id, cf.category)
        fid = str(cf.event_id)
        case = self.open.get(key)
        if case is not None:
            if fid in case.feedback_ids:
                return None
            case.feedback_count += 1
            case.feedback_ids = (case.feedback_ids + [fid])[-KEEP_IDS:]
            case.last_feedback_at = max(case.last_feedback_at, cf.occurred_at)
            case.incident_key = case.incident_key or incident_key
            case.updated_at = now
            return Change(case, "updated")
        owner, team = self.owner(cf.category, ctx)
        segment = ctx.segment if ctx else None
        sla = self.config.sla(cf.category, segment)
        opened = cf.occurred_at
        case = Case(
            case_id=case_id(cf.customer_id, cf.category, cf.event_id), customer_id=cf.customer_id,
            category=cf.category, owner=owner, region=(ctx.region if ctx else None) or self._region(owner),
            team=team, partition=partition, channel=cf.channel.value, opened_at=opened,
            first_response_due=add_time(self.calendar, opened, sla.first_response_hours * 3600),
            resolution_due=add_time(self.calendar, opened, sla.resolution_hours * 3600),
            last_feedback_at=opened, updated_at=now, incident_key=incident_key, segment=segment,
            feedback_ids=[fid],
        )
        self.open[key] = case
        return Change(case, "opened")

    def _region(self, owner: str) -> str | None:
        p = self.directory.person(owner)
        return p.region if p is not None else None

    # -- the clock --------------------------------------------------------------------
    def due(self, now: datetime) -> list[Breach]:
        """Every SLA missed by `now` and not raised yet, first responses before resolutions; nothing is
        marked (the driver marks what it raised, `mark_breached`)."""
        out: list[Breach] = []
        for case in self.open.values():
            if case.state == "open" and case.breach is None and case.first_response_due <= now:
                out.append(Breach(case, "first_response", case.first_response_due))
            if case.state in OPEN and case.breach != "resolution" and case.resolution_due <= now:
                out.append(Breach(case, "resolution", case.resolution_due))
        out.sort(key=lambda b: (b.due, b.case.case_id, b.which != "first_response"))
        return out

    def pages(self, b: Breach, now: datetime) -> bool:
        """Whether a breach found at `now` pages anyone (recent enough to act on; see page_breaches_within_hours)."""
        hours = self.config.page_breaches_within_hours
        return hours is None or (now - b.due).total_seconds() <= hours * 3600

    def mark_breached(self, b: Breach, now: datetime) -> None:
        b.case.breach = b.which
        b.case.escalated_at = now
        b.case.updated_at = now

    def breach_incident(self, b: Breach, now: datetime) -> IncidentEvent:
        """The incident a missed SLA raises: one key per case and SLA, so raising it twice merges."""
        c = b.case
        key = breach_key(c.case_id, b.which)
        what = "first response" if b.which == "first_response" else "resolution"
        return IncidentEvent(
            event_id=uuid.uuid5(NAMESPACE, key), occurred_at=b.due, channel=Channel(c.channel),
            customer_id=c.customer_id, incident_key=key, severity=self.config.breach_severity,
            category=CATEGORY, title=f"{c.category} case of {c.customer_id}: {what} overdue (owner {c.owner})",
            description=(f"case {c.case_id} opened {c.opened_at.isoformat()}, {c.feedback_count} feedback message(s); "
                         f"{what} was due {b.due.isoformat()}"
                         + (f"; linked incident {c.incident_key}" if c.incident_key else "")),
            region=c.region, team=c.team, department=c.department,
        )

    # -- state held -------------------------------------------------------------------
    def adopt(self, case: Case) -> None:
        """A case read from storage (assignment, or a person's action seen in SQL); resolved ones leave."""
        key = (case.customer_id, case.category)
        held = self.open.get(key)
        if case.state not in OPEN:
            if held is not None and held.case_id == case.case_id:
                del self.open[key]
            return
        if held is None or held.case_id == case.case_id or held.opened_at <= case.opened_at:
            self.open[key] = case

    def refresh(self, stored: Case) -> Case | None:
        """What people did (or another worker raised) as SQL has it, laid over the held case: state, times and
        breach; the feedback counts held stay (they may be ahead of SQL). Returns the held case that was
        just resolved, if any."""
        key = (stored.customer_id, stored.category)
        held = self.open.get(key)
        if held is None or held.case_id != stored.case_id:
            self.adopt(stored)
            return None
        held.state, held.responded_at, held.resolved_at = stored.state, stored.responded_at, stored.resolved_at
        if _RANK[stored.breach] > _RANK[held.breach]:
            held.breach, held.escalated_at = stored.breach, stored.escalated_at
        if held.state not in OPEN:
            del self.open[key]
            return held
        return None

    def act(self, case: Case, action: str, now: datetime) -> bool:
        """A person's respond / resolve on a held case (replay, tests); False when it does not fit its state."""
        to = next_state(case.state, action)
        if to is None:
            return False
        case.state = to
        if to == "responded":
            case.responded_at = now
        else:
            case.resolved_at = now
        case.updated_at = now
        self.adopt(case)
        return True

    def keep_partitions(self, partitions: set[int]) -> None:
        self.open = {k: c for k, c in self.open.items() if c.partition in partitions}
