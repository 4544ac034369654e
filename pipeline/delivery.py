"""Output records in flight -> confirmed by the broker, or resent with backoff while their source events stay unacked.

The writer asks it before a flush's acks (`confirmed`): a committed offset then means the event's
rows are in SQL *and* every record it caused (classified feedback, incidents, profiles, dead
letters) is on its topic, even after a broker outage longer than the producer's own retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pipeline.metrics import Metrics

log = logging.getLogger(__name__)

# aiokafka errors after which sending the same record again cannot succeed
NEVER_DELIVERABLE = frozenset({"MessageSizeTooLargeError", "RecordListTooLargeError", "RecordTooLargeError"})

Output = tuple[asyncio.Future, object]


class OutputDelivery:
    def __init__(self, metrics: Metrics, retry_max_s: float = 10.0,
                 resend: Callable[[object], Awaitable[asyncio.Future]] | None = None) -> None:
        self.metrics = metrics
        self.retry_max_s = retry_max_s
        self.resend = resend  # record -> a new delivery future (the Runtime's producer)
        self._outputs: list[Output] = []

    @property
    def in_flight(self) -> int:
        return len(self._outputs)

    def track(self, delivery: asyncio.Future, record: object) -> None:
        """A record sent: `delivery` completes when the broker confirms it; `record` is what
        `resend` needs to send it again."""
        self._outputs.append((delivery, record))

    def take(self) -> list[Output]:
        """The records sent so far (a flush takes them with its acks)."""
        outputs, self._outputs = self._outputs, []
        return outputs

    def put_back(self, outputs: list[Output]) -> None:
        """A flush that was cancelled: its records wait for the next one, ahead of newer ones."""
        self._outputs[:0] = outputs

    async def confirmed(self, outputs: list[tuple[asyncio.Future, object]]) -> bool:
        """Wait until every output is confirmed, resending failed ones with backoff (also after
        aiokafka's KafkaTimeoutError, which it marks not retriable: the broker was away longer
        than the producer's request timeout). False when a resend itself fails (the producer has
        stopped). A record the broker can never take (over its size limit) is logged, counted and
        given up; any other error is retried, loudly, rather than dropped."""
        delay = 0.1
        while outputs:
            pending = [f for f, _ in outputs if not f.done()]
            if pending:
                await asyncio.wait(pending)
            retry = []
            for f, rec in outputs:
                exc = None if f.cancelled() else f.exception()
                if exc is None and not f.cancelled():
                    continue
                if exc is not None and type(exc).__name__ in NEVER_DELIVERABLE:
                    self.metrics.output_failures.labels("given_up").inc()
                    log.error("output record to %s given up: %s", rec[0] if isinstance(rec, tuple) else rec, exc)
                    continue
                retry.append((exc, rec))
            if not retry:
                return True
            self.metrics.output_failures.labels("resent").inc(len(retry))
            log.warning("%d output records not delivered (%s), resending in %.1fs", len(retry),
                        retry[0][0] or "cancelled", delay)
            if self.resend is None:
                return False
            await asyncio.sleep(delay)
            outputs = []
            for _, rec in retry:
                try:
                    outputs.append((await self.resend(rec), rec))
                except Exception as exc:  # the producer is stopped
                    log.warning("output record could not be resent: %s", exc)
                    return False
            delay = min(delay * 2, self.retry_max_s)
        return True
