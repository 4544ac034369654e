"""Firing (a signal that holds, with its evidence) -> IncidentEvent for incidents.raw, and the JSON line replay prints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from schemas.customers import stable_id
from schemas.events import Channel, IncidentEvent, Severity

# What routing reads: escalation.yaml routes each category to its people.
CATEGORY = {"complaint_rate": "market_signal", "negative_share": "market_signal",
            "target_pace": "target_pace", "campaign_roi": "campaign"}
KINDS: tuple[str, ...] = tuple(CATEGORY)
# Signal incidents concern no customer; the wire model needs an id (no profile has this one).
CUSTOMER = "signals"


@dataclass(frozen=True, slots=True)
class Firing:
    kind: str                  # one of KINDS
    subject: str               # "sku:SKU-KETTLE-3", "channel:web", "team:team-north", "campaign:C-1"
    at: datetime               # when it held: the complaint's time, or the tick's
    window_start: datetime     # the window it holds in: with subject and kind, what makes it one incident
    severity: Severity
    title: str
    evidence: dict = field(default_factory=dict)
    channel: Channel | None = None
    region: str | None = None
    sku: str | None = None
    team: str | None = None

    @property
    def incident_key(self) -> str:
        """One incident per subject and window: a redelivery, a second worker or a restart names the same."""
        return f"signal:{self.kind}:{self.subject}@{stamp(self.window_start)}"

    def line(self) -> dict:
        """What `salespulse signals replay` prints."""
        return {"at": self.at.isoformat(), "signal": self.kind, "subject": self.subject,
                "severity": self.severity.value, "window_start": self.window_start.isoformat(),
                "incident_key": self.incident_key, "evidence": self.evidence}


def stamp(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y%m%dT%H%MZ")


def event_id(f: Firing):
    """stable_id(signal, subject, window start, what was seen): a redelivery or a replay of the same
    input raises the same event (the ingest drops it as a redelivery). Two workers that each see part of
    a rise see different counts: their events differ, so they carry different ids (one id for two
    contents would be dead-lettered as a conflicting duplicate) and the incident key merges them."""
    seen = json.dumps(f.evidence, sort_keys=True, default=str)
    return stable_id("signal", f.kind, f.subject, f.window_start.isoformat(), f.at.isoformat(), seen)


def incident(f: Firing, company_channel: Channel, team: str | None = None) -> IncidentEvent:
    """The incident raised for a firing (id: `event_id`). `team`: the directory's name of the firing's
    team, when it has another (agents/signals/teams.py)."""
    return IncidentEvent(
        event_id=event_id(f), occurred_at=f.at,
        channel=f.channel or company_channel, customer_id=CUSTOMER, incident_key=f.incident_key,
        severity=f.severity, category=CATEGORY[f.kind], title=f.title[:500],
        description=f"{f.kind} on {f.subject} from {f.window_start.isoformat()}: "
                    + ", ".join(f"{k}={v}" for k, v in f.evidence.items()),
        region=f.region, sku=f.sku, team=team or f.team, evidence=f.evidence)
