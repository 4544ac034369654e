"""Factories for escalation tests: incident(**overrides), command(kind, **overrides), at(minutes)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from schemas.escalation import IncidentCommand
from schemas.events import Channel, IncidentEvent, Severity

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)   # a Monday, inside office hours


def at(minutes: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(key: str = "inc-1", minutes: float = 0, **kw) -> IncidentEvent:
    base = dict(event_id=uuid.uuid4(), occurred_at=at(minutes), channel=Channel.phone, customer_id="cust-1",
                incident_key=key, severity=Severity.high, category="delivery", title="Parcel lost", region="north")
    base.update(kw)
    return IncidentEvent(**base)


def command(kind: str, key: str = "inc-1", minutes: float = 0, by: str = "lead-north", **kw) -> IncidentCommand:
    kw.setdefault("occurred_at", at(minutes))
    return IncidentCommand(type=kind, incident_key=key, by=by, **kw)
