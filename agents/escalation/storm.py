"""Storm grouping: (window per sku / region, new incident, now) -> parent incident + held-back children (AM-style inhibition)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict

from agents.escalation.policy import Storm
from schemas.escalation import NAMESPACE, IncidentCommand, IncidentStorm
from schemas.events import IncidentEvent, Severity

RANK = {Severity.low: 0, Severity.medium: 1, Severity.high: 2, Severity.critical: 3}
GROUPER = "storm-grouper"


class Seen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    incident_key: str
    severity: Severity


class StormWindow(BaseModel):
    """Recent new incidents of one group ("sku=X" / "region=Y") and the storm open on it, if any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    recent: tuple[Seen, ...] = ()
    parent_key: str | None = None
    last_seen: AwareDatetime | None = None

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> "StormWindow":
        return cls.model_validate_json(orjson.dumps(data))


class Verdict(BaseModel):
    """What to do with the incident: hold it under `held_by` (or page it if None), and the events to emit."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    held_by: str | None = None
    storm: IncidentStorm | None = None          # open or grow the parent (apply with machine.on_storm)
    merges: tuple[IncidentCommand, ...] = ()    # hold back children paged before the storm was seen


def groups_of(event: IncidentEvent, storm: Storm) -> list[str]:
    """The storm groups an incident counts in, in policy order: e.g. ["sku=SKU-1", "region=north"]."""
    if event.category in storm.exempt_categories:
        return []
    return [f"{dim}={getattr(event, dim)}" for dim in storm.group_by if getattr(event, dim)]


def _storm_event(w: StormWindow, storm: Storm, children: tuple[str, ...], severity: Severity,
                 now: datetime, opened: bool) -> IncidentStorm:
    dim, _, value = w.group.partition("=")
    n = len(children)
    return IncidentStorm(
        event_id=uuid.uuid5(NAMESPACE, f"{w.parent_key}|{n if opened else children[-1]}"), occurred_at=now,
        incident_key=w.parent_key, group=w.group, level_name=storm.level, severity=severity,
        title=f"storm: incidents on {dim} {value}",
        reason=f"storm: {n} new incidents on {dim} {value} within {storm.window_minutes:g} min; "
               "per-customer pages held back",
        region=value if dim == "region" else None, sku=value if dim == "sku" else None, children=children)


def parent_key(group: str, now: datetime) -> str:
    """The key of the storm a group opens at `now` (to the second): e.g. "storm:sku=SKU-1:20261102T100200Z"."""
    return f"storm:{group}:{now.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"


def observe(window: StormWindow | None, group: str, event: IncidentEvent, storm: Storm,
            now: datetime) -> tuple[StormWindow, Verdict]:
    """Count a *new* incident in `group`; open the storm at `threshold` distinct keys within the window."""
    w = window or StormWindow(group=group)
    cutoff = now - timedelta(minutes=storm.window_minutes)
    key = event.incident_key
    if w.parent_key is not None and w.last_seen is not None and w.last_seen >= cutoff:
        w = w.model_copy(update={"last_seen": now})
        return w, Verdict(held_by=w.parent_key, storm=_storm_event(w, storm, (key,), event.severity, now, False))
    recent = tuple(s for s in w.recent if s.at >= cutoff and s.incident_key != key)
    recent += (Seen(at=now, incident_key=key, severity=event.severity),)
    if len(recent) < storm.threshold:
        return w.model_copy(update={"recent": recent, "parent_key": None}), Verdict()
    parent = parent_key(group, now)
    w = StormWindow(group=group, recent=(), parent_key=parent, last_seen=now)
    worst = max((s.severity for s in recent), key=RANK.__getitem__)
    children = tuple(s.incident_key for s in recent)
    merges = tuple(IncidentCommand(event_id=uuid.uuid5(NAMESPACE, f"{parent}|merge|{k}"), occurred_at=now,
                                   type="merge", incident_key=k, by=GROUPER, parent_key=parent)
                   for k in children[:-1])
    return w, Verdict(held_by=parent, storm=_storm_event(w, storm, children, worst, now, True), merges=merges)
