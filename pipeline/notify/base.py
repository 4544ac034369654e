"""What every notifier is: (alert, recipient) -> delivered, or TransientDeliveryError / PermanentDeliveryError."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Sequence

from schemas.escalation import EscalationAlert, Target

Outcome = Literal["delivered", "retrying", "failed", "muted", "duplicate", "dropped"]


class Notifier(Protocol):
    """One channel. `recipients` says whom to send to (None = the channel itself, e.g. a topic)."""

    channel: str

    def recipients(self, alert: EscalationAlert) -> Sequence[Target | None]: ...

    async def send(self, alert: EscalationAlert, recipient: Target | None, attempt: int = 1) -> None:
        """`attempt` (1-based) lets a channel tell receivers a retry of the same notification_id."""
        ...


@dataclass(frozen=True)
class DeliveryResult:
    """One attempt (or a decision not to attempt), reported through on_result: the audit trail's row."""

    notification_id: uuid.UUID
    incident_key: str
    level: int
    loop: int
    channel: str                 # "webhook", "email", "topic", "log", or "*" for a whole alert
    recipient: str | None        # person id, or None for channel-wide sinks
    attempt: int                 # 1-based; 0 when nothing was attempted (duplicate, muted, dropped)
    outcome: Outcome
    error: str | None
    at: datetime
    duration_seconds: float = 0.0


def summary(alert: EscalationAlert) -> str:
    """One line people read first: severity, title, level."""
    return (f"[{alert.severity.value.upper()}] {alert.title} - level {alert.level} {alert.level_name}"
            + (f" (repeat {alert.loop})" if alert.loop else ""))


def body(alert: EscalationAlert) -> str:
    """Plain-text details shared by email and chat: why, by when, and the playbook."""
    lines = [summary(alert), "", f"Why: {alert.reason}", f"Incident: {alert.incident_key} (seen {alert.count}x)"]
    if alert.customer_id:
        lines.append(f"Customer: {alert.customer_id}")
    if alert.ack_by:
        lines.append(f"Acknowledge by: {alert.ack_by.isoformat()}")
    if alert.playbook:
        lines += ["", f"Playbook {alert.playbook.name}: {alert.playbook.summary}".rstrip(": ")]
        lines += [f"  {i}. {s.action} ({s.owner})" for i, s in enumerate(alert.playbook.steps, 1)]
    return "\n".join(lines)
