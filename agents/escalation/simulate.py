"""Offline replay: JSON lines (incidents, commands, ticks, customers) + policy -> every alert that would be sent, in time order."""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from agents.escalation.machine import cascade, due, on_command, on_incident, on_storm
from agents.escalation.policy import Policy
from agents.escalation.routing import CustomerContext
from agents.escalation.state import IncidentState, next_deadline
from agents.escalation.storm import StormWindow, groups_of, observe
from pipeline.configfile import describe_errors
from pipeline.errors import UserInputError
from schemas.escalation import EscalationAlert, IncidentCommand, IncidentStorm
from schemas.events import INPUT_ADAPTER, IncidentEvent

_WHEN = TypeAdapter(AwareDatetime)
USER_COMMANDS = ("ack", "resolve", "reopen")


@dataclass(frozen=True)
class Tick:
    occurred_at: datetime


@dataclass(frozen=True)
class Customer:
    customer_id: str
    context: CustomerContext
    occurred_at: datetime


def parse_line(line: str, where: str) -> Any:
    """One input line -> IncidentEvent | IncidentCommand | Tick | Customer | None (another event type: skipped)."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{where}: not JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    kind = raw.get("type")
    try:
        if kind == "tick":
            return Tick(_WHEN.validate_python(raw.get("occurred_at")))
        if kind == "customer":
            ctx = {k: v for k, v in raw.items() if k not in ("type", "customer_id", "occurred_at")}
            return Customer(str(raw.get("customer_id")), CustomerContext.model_validate(ctx),
                            _WHEN.validate_python(raw.get("occurred_at")))
        if kind is not None:
            if kind not in USER_COMMANDS:
                raise UserInputError(f'{where}: unknown "type" {kind!r} (ack, resolve, reopen, tick, customer)')
            return IncidentCommand.model_validate_json(json.dumps({**raw, "event_type": "incident_command"}))
        event = INPUT_ADAPTER.validate_json(line)
    except ValidationError as exc:
        raise UserInputError(f"{where}: {describe_errors(exc)}") from None
    return event if isinstance(event, IncidentEvent) else None


@dataclass
class Replay:
    """The agent's loop without a broker: states, storm windows and customer contexts in dicts."""

    policy: Policy
    states: dict[str, IncidentState] = field(default_factory=dict)
    windows: dict[str, StormWindow] = field(default_factory=dict)
    customers: dict[str, CustomerContext] = field(default_factory=dict)
    alerts: list[EscalationAlert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _timers: list[tuple[datetime, str]] = field(default_factory=list)

    def _put(self, state: IncidentState, alerts: list[EscalationAlert]) -> None:
        self.states[state.incident_key] = state
        self.alerts.extend(alerts)
        d = next_deadline(state)
        if d is not None:
            heapq.heappush(self._timers, (d, state.incident_key))

    def run_until(self, until: datetime | None, *, inclusive: bool = True) -> None:
        """Fire deadlines in time order up to `until` (None: until nothing is pending)."""
        while self._timers:
            d, key = self._timers[0]
            if until is not None and (d > until or (d == until and not inclusive)):
                return
            heapq.heappop(self._timers)
            s = self.states[key]
            if next_deadline(s) == d:  # stale heap entries (acked, re-armed) are skipped
                self._put(*due(s, self.policy, d))

    def incident(self, ev: IncidentEvent, now: datetime) -> None:
        state = self.states.get(ev.incident_key)
        held_by, storm, merges = None, None, ()
        storm_cfg = self.policy.config.storm
        if storm_cfg is not None and (state is None or not state.is_open):
            for group in groups_of(ev, storm_cfg):
                w, verdict = observe(self.windows.get(group), group, ev, storm_cfg, now)
                self.windows[group] = w
                if verdict.held_by is not None:
                    held_by, storm, merges = verdict.held_by, verdict.storm, verdict.merges
                    break
        self._put(*on_incident(state, ev, self.policy, self.customers.get(ev.customer_id), now, held_by=held_by))
        if storm is not None:
            self.storm(storm, now)
        for cmd in merges:
            self.command(cmd, now)

    def storm(self, storm: IncidentStorm, now: datetime) -> None:
        self._put(*on_storm(self.states.get(storm.incident_key), storm, self.policy, now))

    def command(self, cmd: IncidentCommand, now: datetime) -> None:
        s = self.states.get(cmd.incident_key)
        if s is None:
            self.notes.append(f"{cmd.type} by {cmd.by} at {now.isoformat()}: no incident {cmd.incident_key!r}")
            return
        self._put(*on_command(s, cmd, self.policy, now))
        for child in cascade(s, cmd):
            self.command(child, now)

    def apply(self, item: Any, now: datetime) -> None:
        if isinstance(item, IncidentEvent):
            self.incident(item, now)
        elif isinstance(item, IncidentCommand):
            self.command(item, now)
        elif isinstance(item, Customer):
            self.customers[item.customer_id] = item.context


def simulate(lines: Iterable[str], policy: Policy, source: str = "events") -> Replay:
    """Replay input lines in time order (stable for equal times), then run the clock until nothing is pending."""
    items: list[tuple[datetime, int, Any]] = []
    skipped = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = parse_line(line, f"{source} line {n}")
        if item is None:
            skipped += 1
            continue
        items.append((item.occurred_at, n, item))
    items.sort(key=lambda t: (t[0], t[1]))
    replay = Replay(policy)
    if skipped:
        replay.notes.append(f"skipped {skipped} events that are not incidents")
    for at, _, item in items:
        replay.run_until(at, inclusive=False)   # an ack at the deadline itself is in time
        replay.apply(item, at)
        replay.run_until(at)
    replay.run_until(None)
    replay.alerts.sort(key=lambda a: a.at)  # stable: same-time alerts keep the order they were made in
    return replay


def alert_line(a: EscalationAlert) -> dict[str, Any]:
    """The JSON line `simulate` prints for one alert."""
    return {"at": a.at.isoformat(), "incident_key": a.incident_key, "level": a.level, "level_name": a.level_name,
            "loop": a.loop, "targets": [t.id for t in a.targets], "reason": a.reason}
