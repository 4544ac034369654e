"""Log sink: alert -> one structured INFO record on the `salespulse.notify` logger."""

from __future__ import annotations

import logging
from typing import Sequence

from pipeline.notify.base import summary
from schemas.escalation import EscalationAlert, Target

log = logging.getLogger("salespulse.notify")


class LogNotifier:
    channel = "log"

    def recipients(self, alert: EscalationAlert) -> Sequence[Target | None]:
        return (None,)

    async def send(self, alert: EscalationAlert, recipient: Target | None, attempt: int = 1) -> None:
        log.info("%s", summary(alert), extra={
            "notification_id": str(alert.notification_id), "incident_key": alert.incident_key,
            "level": alert.level, "loop": alert.loop, "targets": [t.id for t in alert.targets],
            "reason": alert.reason})
