"""(incident | command | storm | clock, now) -> state changes, alerts and follow-up commands: the escalator
that the worker (Kafka, SQL, wall clock) and `escalation simulate` (virtual clock, dicts) both drive."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

from agents.escalation.machine import cascade, due, on_command, on_incident, on_storm
from agents.escalation.policy import Policy
from agents.escalation.routing import CustomerContext
from agents.escalation.state import IncidentState, next_deadline
from agents.escalation.storm import StormWindow, groups_of, observe
from schemas.escalation import EscalationAlert, IncidentCommand, IncidentStorm
from schemas.events import IncidentEvent

Control = IncidentCommand | IncidentStorm
ACTIONS = {"ack": "acknowledged", "resolve": "resolved", "reopen": "reopened", "merge": "merged"}


@dataclass(frozen=True, slots=True)
class Change:
    """One incident's new state, the alerts it sends and the audit action (None: a silent update)."""

    state: IncidentState
    alerts: tuple[EscalationAlert, ...] = ()
    action: str | None = None
    actor: str | None = None
    detail: str | None = None
    missed: int | None = None          # from the clock: the level (1-based) whose ack deadline passed


@dataclass(slots=True)
class Outcome:
    """What one input decided. `follow_ups` are applied next, through `control`, by whoever drives the core
    (the worker sends them to incidents.commands, which reaches the owner of each key)."""

    changes: list[Change] = field(default_factory=list)
    follow_ups: list[Control] = field(default_factory=list)
    unknown: bool = False              # a command for an incident this core does not hold: ignored

    @property
    def alerts(self) -> list[EscalationAlert]:
        return [a for c in self.changes for a in c.alerts]


class EscalationCore:
    """Incident states, storm windows and deadlines; decides every state change and notification at `now`.

    Reads no clock, sends nothing, stores nothing outside itself."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.states: dict[str, IncidentState] = {}
        self.storms: dict[str, StormWindow] = {}
        # (deadline, key): the clock pops what fell due instead of scanning every open incident;
        # entries whose incident moved on are stale and skipped
        self._deadlines: list[tuple[datetime, str]] = []

    # -- state held -------------------------------------------------------------------
    def _arm(self, s: IncidentState, prev: IncidentState | None = None) -> None:
        when = next_deadline(s)
        if when is not None and (prev is None or next_deadline(prev) != when):
            heapq.heappush(self._deadlines, (when, s.incident_key))

    def _record(self, out: Outcome, s: IncidentState, alerts: list[EscalationAlert], action: str | None,
                actor: str | None = None, detail: str | None = None, missed: int | None = None) -> None:
        prev = self.states.get(s.incident_key)
        self.states[s.incident_key] = s
        self._arm(s, prev)
        out.changes.append(Change(s, tuple(alerts), action, actor, detail, missed))

    def adopt(self, s: IncidentState) -> None:
        """Take over an incident decided elsewhere (loaded from storage after a restart or rebalance)."""
        self.states[s.incident_key] = s
        self._arm(s)

    def forget(self, key: str) -> None:
        """Hand an incident to another owner; its pending deadline is dropped with it."""
        self.states.pop(key, None)

    def next_due(self) -> datetime | None:
        """The earliest pending deadline, or None."""
        heap = self._deadlines
        while heap:
            when, key = heap[0]
            s = self.states.get(key)
            if s is not None and next_deadline(s) == when:
                return when
            heapq.heappop(heap)
        return None

    # -- inputs -----------------------------------------------------------------------
    def incident(self, event: IncidentEvent, customer: CustomerContext | None, now: datetime) -> Outcome:
        """A new or repeated incident: page, merge, re-open, or hold it back under a storm."""
        out = Outcome()
        prev = self.states.get(event.incident_key)
        held_by = None
        if prev is None or not prev.is_open:
            held_by = self._storm_check(event, now, out)
        s, alerts = on_incident(prev, event, self.policy, customer, now, held_by=held_by)
        action = "merged" if prev is not None and prev.is_open else ("held" if held_by else
                                                                     "reopened" if prev else "triggered")
        self._record(out, s, alerts, action, detail=event.title)
        return out

    def _storm_check(self, event: IncidentEvent, now: datetime, out: Outcome) -> str | None:
        """Count a new incident in every group it belongs to (each may open or grow its own storm);
        the first group holding it names its parent."""
        storm_cfg = self.policy.config.storm
        if storm_cfg is None:
            return None
        held = None
        for group in groups_of(event, storm_cfg):
            window, verdict = observe(self.storms.get(group), group, event, storm_cfg, now)
            self.storms[group] = window
            if verdict.storm is not None:
                out.follow_ups.append(verdict.storm)
            out.follow_ups.extend(verdict.merges)
            if verdict.held_by and held is None:
                held = verdict.held_by
        return held

    def control(self, ctl: Control, now: datetime) -> Outcome:
        """A storm's parent (open or grow), or ack / resolve / reopen / merge of a held incident."""
        out = Outcome()
        prev = self.states.get(ctl.incident_key)
        if isinstance(ctl, IncidentStorm):
            s, alerts = on_storm(prev, ctl, self.policy, now)
            self._record(out, s, alerts, "storm" if prev is None or not prev.is_open else "storm-grew",
                         detail=ctl.reason)
            return out
        if prev is None:
            out.unknown = True
            return out
        s, alerts = on_command(prev, ctl, self.policy, now)
        if s is prev and not alerts:
            return out  # a repeated command changes nothing
        self._record(out, s, alerts, ACTIONS[ctl.type], actor=ctl.by, detail=ctl.comment)
        out.follow_ups.extend(cascade(s, ctl))
        return out

    def sweep(self, now: datetime) -> Outcome:
        """Fire every deadline at or before `now` (also those missed while nobody held the incident)."""
        out = Outcome()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            s = self.states.get(key)
            if s is None or next_deadline(s) != when:
                continue  # acked, resolved, re-armed or handed to another owner since
            missed = s.current.level + 1
            s2, alerts = due(s, self.policy, now)
            self._record(out, s2, alerts, "escalated" if alerts else None, missed=missed)
        return out
