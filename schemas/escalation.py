"""Wire models of the escalation capability: commands in (ack / resolve / reopen), alerts and snapshots out."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, Field, StringConstraints, TypeAdapter, model_validator

from schemas.events import EventBase, Id, Label, Severity, Strict

# Deterministic ids: the same page computed twice (replay, rebalance) carries the same notification_id.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://salespulse.invalid/escalation")

IncidentKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Comment = Annotated[str, StringConstraints(max_length=2000)]
AlertKind = Literal["page", "inform", "storm"]
IncidentStatus = Literal["triggered", "acknowledged", "resolved", "merged"]


def notification_id(incident_key: str, level: int, loop: int, epoch: int = 0, kind: str = "page") -> uuid.UUID:
    """(incident, level, loop) -> uuid5; `epoch` (re-opens) and a non-page `kind` only widen the key when set."""
    parts = [incident_key, str(level), str(loop)]
    if epoch:
        parts.append(f"e{epoch}")
    if kind != "page":
        parts.append(kind)
    return uuid.uuid5(NAMESPACE, "|".join(parts))


class IncidentCommand(EventBase):
    """A person (API, CLI) or the storm grouper acts on an incident; keyed by incident_key so its owner applies it."""

    event_type: Literal["incident_command"] = "incident_command"
    type: Literal["ack", "resolve", "reopen", "merge"]
    incident_key: IncidentKey
    by: Id
    comment: Comment | None = None
    parent_key: IncidentKey | None = None    # merge only: the storm's parent that holds this incident back

    @model_validator(mode="after")
    def _merge_has_parent(self) -> "IncidentCommand":
        if (self.type == "merge") != (self.parent_key is not None):
            raise ValueError("parent_key is required for merge and only for merge")
        return self

    @property
    def key(self) -> str:
        return self.incident_key


class IncidentStorm(EventBase):
    """Many incidents on one sku or region within a window: open (or grow) one parent incident for a manager level."""

    event_type: Literal["incident_storm"] = "incident_storm"
    incident_key: IncidentKey                # the parent's key, e.g. "storm:sku=SKU-1:20261102T0900Z"
    group: str = Field(min_length=3, max_length=200)   # "sku=SKU-1" or "region=north"
    level_name: Label                        # the level the parent starts at
    severity: Severity                       # the highest severity among the children
    category: Label = "storm"
    title: str = Field(max_length=500)
    reason: str = Field(max_length=500)
    region: Label | None = None
    sku: Id | None = None
    children: tuple[IncidentKey, ...] = Field(min_length=1)

    @property
    def key(self) -> str:
        return self.incident_key


class Target(Strict):
    """One person told about an incident, with the channels they can be reached on."""

    id: Id
    name: str = Field(max_length=200)
    role: Label | None = None
    email: str | None = Field(default=None, max_length=320)
    webhook: str | None = Field(default=None, max_length=2000)


class PlaybookStep(Strict):
    action: str = Field(min_length=1, max_length=500)
    owner: Label


class Playbook(Strict):
    """The contingency plan for an incident category: carried in every alert."""

    name: Label
    summary: str = Field(default="", max_length=1000)
    steps: tuple[PlaybookStep, ...] = ()


class EscalationAlert(EventBase):
    """One notification: event_id == notification_id, occurred_at == at (when it was due)."""

    event_type: Literal["escalation"] = "escalation"
    notification_id: uuid.UUID
    kind: AlertKind = "page"
    incident_key: IncidentKey
    epoch: int = Field(default=0, ge=0)
    level: int = Field(ge=1)                 # 1-based position in the policy's chain
    level_name: Label
    loop: int = Field(ge=0)                  # 0 = first pass through the chain
    targets: tuple[Target, ...]
    reason: str = Field(max_length=500)
    at: AwareDatetime
    ack_by: AwareDatetime | None = None      # deadline before the next level is paged
    severity: Severity
    title: str = Field(max_length=500)
    category: Label
    customer_id: Id | None = None            # None for a storm's parent incident
    region: Label | None = None
    sku: Id | None = None
    count: int = Field(default=1, ge=1)
    playbook: Playbook | None = None

    @property
    def key(self) -> str:
        return self.incident_key


Notification = EscalationAlert


class IncidentSnapshot(Strict):
    """An incident as GET /incidents shows it."""

    incident_key: IncidentKey
    status: IncidentStatus
    severity: Severity
    category: Label
    title: str
    customer_id: Id | None = None
    region: Label | None = None
    sku: Id | None = None
    level: int = Field(ge=1)
    level_name: Label
    loop: int = Field(ge=0)
    epoch: int = Field(ge=0)
    count: int = Field(ge=1)
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    deadline: AwareDatetime | None = None
    acked_by: Id | None = None
    acked_at: AwareDatetime | None = None
    resolved_by: Id | None = None
    resolved_at: AwareDatetime | None = None
    parent_key: IncidentKey | None = None
    children: int = Field(default=0, ge=0)


IncidentControl = Annotated[Union[IncidentCommand, IncidentStorm], Field(discriminator="event_type")]
# Decodes the incident commands topic: people's ack/resolve/reopen, the grouper's merge and storm events.
CONTROL_ADAPTER: TypeAdapter[IncidentControl] = TypeAdapter(IncidentControl)
