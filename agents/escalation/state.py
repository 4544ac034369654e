"""IncidentState: one incident's lifecycle and timer, <-> JSON-able dict (faust table value, SQL row)."""

from __future__ import annotations

from datetime import datetime

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agents.escalation.routing import Plan, Step
from schemas.escalation import IncidentSnapshot, IncidentStatus
from schemas.events import Severity

OPEN: frozenset[str] = frozenset({"triggered", "acknowledged", "merged"})


class IncidentState(BaseModel):
    """Everything needed to continue an escalation after a restart; replaced, never mutated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    incident_key: str
    status: IncidentStatus = "triggered"
    epoch: int = 0                     # bumped on each re-open; part of the notification key
    severity: Severity
    category: str
    title: str
    customer_id: str | None = None
    region: str | None = None
    sku: str | None = None
    count: int = Field(default=1, ge=1)
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    plan: Plan
    loop: int = 0                      # pass through the chain (0 .. plan.repeat)
    step: int = 0                      # index into plan.steps of the level paged last
    deadline: AwareDatetime | None = None   # when the current level times out; None = nothing pending
    acked_by: str | None = None
    acked_at: AwareDatetime | None = None
    resolved_by: str | None = None
    resolved_at: AwareDatetime | None = None
    parent_key: str | None = None      # set while merged into a storm's parent
    children: tuple[str, ...] = ()     # for a storm's parent: the incidents held back

    @property
    def current(self) -> Step:
        return self.plan.steps[self.step]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> "IncidentState":
        # through JSON so nested strict wire models (Target, Playbook) accept strings and lists
        return cls.model_validate_json(orjson.dumps(data))

    def snapshot(self) -> IncidentSnapshot:
        """The GET /incidents view."""
        return IncidentSnapshot(
            incident_key=self.incident_key, status=self.status, severity=self.severity, category=self.category,
            title=self.title, customer_id=self.customer_id, region=self.region, sku=self.sku,
            level=self.current.level + 1, level_name=self.current.name, loop=self.loop, epoch=self.epoch,
            count=self.count, first_seen=self.first_seen, last_seen=self.last_seen, deadline=self.deadline,
            acked_by=self.acked_by, acked_at=self.acked_at, resolved_by=self.resolved_by,
            resolved_at=self.resolved_at, parent_key=self.parent_key, children=len(self.children),
        )


def next_deadline(state: IncidentState | None) -> datetime | None:
    """When `due` must next be called for this incident; None when nothing is pending."""
    return state.deadline if state is not None and state.status == "triggered" else None
