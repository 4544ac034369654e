"""Topic sink: alert -> an async callable the worker plugs its producer into (the `escalations` topic)."""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from pipeline.errors import DeliveryError, TransientDeliveryError
from schemas.escalation import EscalationAlert, Target

Produce = Callable[[EscalationAlert], Awaitable[object]]


class TopicNotifier:
    """E.g. TopicNotifier(lambda a: escalations_topic.send(key=a.incident_key, value=a))."""

    channel = "topic"

    def __init__(self, produce: Produce) -> None:
        self._produce = produce

    def recipients(self, alert: EscalationAlert) -> Sequence[Target | None]:
        return (None,)

    async def send(self, alert: EscalationAlert, recipient: Target | None, attempt: int = 1) -> None:
        try:
            await self._produce(alert)
        except DeliveryError:
            raise
        except Exception as exc:  # producer errors (broker down, timeouts) are worth a retry
            raise TransientDeliveryError(f"topic: {type(exc).__name__}: {exc}") from exc
