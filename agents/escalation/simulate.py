"""JSON lines (incidents, commands, ticks, customers) + policy -> every alert that would be sent, in time order:
the worker's escalation core (agents/escalation/core.py) on a virtual clock, no broker, no database."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from agents.escalation.core import EscalationCore, Outcome
from agents.escalation.policy import Policy
from pipeline.configfile import describe_errors
from agents.escalation.routing import CustomerContext
from agents.escalation.state import IncidentState
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


class Simulation:
    """The worker's escalation core on a virtual clock: customer contexts in a dict, follow-up commands
    (storms, merges, cascaded resolves) applied at once instead of through Kafka, alerts collected."""

    def __init__(self, policy: Policy) -> None:
        self.core = EscalationCore(policy)
        self.customers: dict[str, CustomerContext] = {}
        self.alerts: list[EscalationAlert] = []
        self.notes: list[str] = []

    @property
    def states(self) -> dict[str, IncidentState]:
        return self.core.states

    def _take(self, out: Outcome, now: datetime) -> None:
        pending = deque([out])
        while pending:
            out = pending.popleft()
            self.alerts.extend(out.alerts)
            for ctl in out.follow_ups:
                pending.append(self._control(ctl, now))

    def _control(self, ctl: IncidentCommand | IncidentStorm, now: datetime) -> Outcome:
        out = self.core.control(ctl, now)
        if out.unknown:
            self.notes.append(f"{ctl.type} by {ctl.by} at {now.isoformat()}: no incident {ctl.incident_key!r}")
        return out

    def run_until(self, until: datetime | None, *, inclusive: bool = True) -> None:
        """Move the clock from deadline to deadline up to `until` (None: until nothing is pending)."""
        while (when := self.core.next_due()) is not None:
            if until is not None and (when > until or (when == until and not inclusive)):
                return
            self._take(self.core.sweep(when), when)

    def incident(self, ev: IncidentEvent, now: datetime) -> None:
        self._take(self.core.incident(ev, self.customers.get(ev.customer_id), now), now)

    def command(self, cmd: IncidentCommand, now: datetime) -> None:
        self._take(self._control(cmd, now), now)

    def apply(self, item: Any, now: datetime) -> None:
        if isinstance(item, IncidentEvent):
            self.incident(item, now)
        elif isinstance(item, IncidentCommand):
            self.command(item, now)
        elif isinstance(item, Customer):
            self.customers[item.customer_id] = item.context


def simulate(lines: Iterable[str], policy: Policy, source: str = "events") -> Simulation:
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
    replay = Simulation(policy)
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
