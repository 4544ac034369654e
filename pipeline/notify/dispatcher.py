"""Delivery pipeline: submit(alert) -> dedup -> queue -> mute -> send with retry/backoff -> on_result per attempt."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Sequence

from pipeline.errors import PermanentDeliveryError, TransientDeliveryError
from pipeline.notify.base import DeliveryResult, Notifier, Outcome
from pipeline.notify.dedup import Dedup
from pipeline.notify.retry import Backoff
from schemas.escalation import EscalationAlert, Target

log = logging.getLogger("salespulse.notify")

IsMuted = Callable[[EscalationAlert], "bool | Awaitable[bool]"]
AlreadySent = Callable[[EscalationAlert, str, "str | None"], "bool | Awaitable[bool]"]
OnResult = Callable[[DeliveryResult], "Any | Awaitable[Any]"]
OnFailure = Callable[[str, str], Any]   # (channel, reason: transient|permanent|dropped) -> metrics


@dataclass
class _Job:
    alert: EscalationAlert
    notifier: Notifier
    recipient: Target | None
    attempt: int = 1


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Dispatcher:
    """Never blocks the caller: submit() only enqueues; workers deliver; retries wait in their own tasks.

    is_muted(alert): True once the incident is acknowledged or resolved (checked before every attempt).
    already_sent(alert, channel, recipient): restart-safe dedup, e.g. a look-up in the SQL audit trail.
    on_result(DeliveryResult): every attempt and every decision not to send, for the audit trail.
    on_failure(channel, reason): a delivery given up or dropped, for metrics.
    """

    def __init__(self, notifiers: Sequence[Notifier], *, is_muted: IsMuted | None = None,
                 already_sent: AlreadySent | None = None, on_result: OnResult | None = None,
                 on_failure: OnFailure | None = None, queue_size: int = 10_000, workers: int = 4,
                 max_attempts: int = 5, backoff: Backoff | None = None, attempt_timeout: float = 15.0,
                 dedup_size: int = 100_000, clock: Callable[[], datetime] | None = None) -> None:
        self._notifiers = tuple(notifiers)
        self._is_muted, self._already_sent = is_muted, already_sent
        self._on_result, self._on_failure = on_result, on_failure
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._n_workers, self._max_attempts = workers, max_attempts
        self._backoff, self._timeout = backoff or Backoff(), attempt_timeout
        self._dedup = Dedup(dedup_size)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._retries: set[asyncio.Task] = set()
        self._callbacks: set[asyncio.Task] = set()
        self._workers: list[asyncio.Task] = []
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- caller side -------------------------------------------------------------------------
    def submit(self, alert: EscalationAlert) -> bool:
        """Enqueue an alert for every channel and recipient; False if it was a duplicate or the queue is full."""
        if not self._workers:
            raise RuntimeError("Dispatcher.start() was not awaited")
        if not self._dedup.first_time(alert.notification_id):
            self._report(alert, "*", None, 0, "duplicate", None)
            return False
        jobs = [_Job(alert, n, r) for n in self._notifiers for r in n.recipients(alert)]
        if self._queue.maxsize and self._queue.maxsize - self._queue.qsize() < len(jobs):
            self._report(alert, "*", None, 0, "dropped", "delivery queue full")
            self._failed("*", "dropped")
            return False
        for job in jobs:
            self._pending += 1
            self._idle.clear()
            self._queue.put_nowait(job)
        return True

    async def start(self) -> "Dispatcher":
        self._workers = [asyncio.create_task(self._work(), name=f"notify-{i}") for i in range(self._n_workers)]
        return self

    async def join(self) -> None:
        """Wait until every submitted alert is delivered, given up, muted or dropped (tests, shutdown)."""
        await self._idle.wait()
        while self._callbacks:
            await asyncio.gather(*list(self._callbacks), return_exceptions=True)

    async def close(self, drain_timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self.join(), drain_timeout)
        except asyncio.TimeoutError:
            log.warning("closing with %d deliveries unfinished", self._pending)
        for t in [*self._workers, *self._retries]:
            t.cancel()
        await asyncio.gather(*self._workers, *self._retries, return_exceptions=True)
        if self._callbacks:  # audit writes already started are finished, not cancelled
            await asyncio.wait(list(self._callbacks), timeout=drain_timeout)
        self._workers = []
        for n in self._notifiers:
            if hasattr(n, "aclose"):
                await n.aclose()

    async def __aenter__(self) -> "Dispatcher":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- worker side -------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                if await self._deliver(job):
                    self._done()
            except Exception:  # a bug in a hook must not kill the worker
                log.exception("delivery of %s failed unexpectedly", job.alert.notification_id)
                self._done()
            finally:
                self._queue.task_done()

    async def _deliver(self, job: _Job) -> bool:
        """One attempt; True when the job is finished, False when a retry was scheduled."""
        a, ch = job.alert, job.notifier.channel
        rid = job.recipient.id if job.recipient else None
        if self._is_muted is not None and await _maybe_await(self._is_muted(a)):
            self._report(a, ch, rid, 0, "muted", None)
            return True
        if job.attempt == 1 and self._already_sent is not None and await _maybe_await(self._already_sent(a, ch, rid)):
            self._report(a, ch, rid, 0, "duplicate", None)
            return True
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):  # in this task: no task per attempt as wait_for makes
                await job.notifier.send(a, job.recipient, job.attempt)
        except (TransientDeliveryError, asyncio.TimeoutError) as exc:
            error = str(exc) or f"{ch}: no answer within {self._timeout:g}s"
            if job.attempt < self._max_attempts:
                self._report(a, ch, rid, job.attempt, "retrying", error, started)
                self._later(job)
                return False
            self._report(a, ch, rid, job.attempt, "failed", error, started)
            self._failed(ch, "transient")
        except PermanentDeliveryError as exc:
            self._report(a, ch, rid, job.attempt, "failed", str(exc), started)
            self._failed(ch, "permanent")
        except Exception as exc:  # a notifier bug: do not retry blindly
            self._report(a, ch, rid, job.attempt, "failed", f"{type(exc).__name__}: {exc}", started)
            self._failed(ch, "permanent")
        else:
            self._report(a, ch, rid, job.attempt, "delivered", None, started)
        return True

    def _later(self, job: _Job) -> None:
        delay = self._backoff.delay(job.attempt)
        job.attempt += 1

        async def requeue() -> None:
            await asyncio.sleep(delay)
            await self._queue.put(job)

        task = asyncio.create_task(requeue())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    def _done(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    def _failed(self, channel: str, reason: str) -> None:
        if self._on_failure is not None:
            try:
                self._on_failure(channel, reason)
            except Exception:
                log.exception("on_failure hook raised")

    def _report(self, a: EscalationAlert, channel: str, recipient: str | None, attempt: int, outcome: Outcome,
                error: str | None, started: float | None = None) -> None:
        if self._on_result is None:
            return
        result = DeliveryResult(
            notification_id=a.notification_id, incident_key=a.incident_key, level=a.level, loop=a.loop,
            channel=channel, recipient=recipient, attempt=attempt, outcome=outcome, error=error, at=self._clock(),
            duration_seconds=time.monotonic() - started if started is not None else 0.0)
        try:
            value = self._on_result(result)
        except Exception:
            log.exception("on_result hook raised")
            return
        if inspect.isawaitable(value):
            task = asyncio.ensure_future(value)
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
