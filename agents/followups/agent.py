"""FollowUpTask (sink port), resolutions (on_resolved port), clock -> follow-up rows (SQL), followups topic,
overdue incidents on incidents.raw, batched owner notices (email / webhook)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from agents.customers.config import FollowUpRules, Lifecycle
from agents.escalation.directory import Directory
from agents.escalation.routing import CustomerContext
from agents.followups import store
from agents.followups.core import QUEUE, new_row, overdue_incident
from pipeline import topics as T
from pipeline.db.models import CustomerProfileRow
from pipeline.notify.batch import period_start
from pipeline.notify.notice import Notice, NoticeSender
from pipeline.notify.smtp import EmailNotifier
from pipeline.runtime import Runtime, now_utc
from schemas.customers import FollowUpReason, FollowUpTask, stable_id
from schemas.escalation import Target

log = logging.getLogger(__name__)

FOLLOWUPS = store.FOLLOWUPS
PROFILES = CustomerProfileRow.__table__
CustomerLookup = Callable[[str], Awaitable[CustomerContext | None]]
OnResolved = Callable[[str, str, datetime], Awaitable[None]]


class FollowUps:
    """The worker's driver of the follow-up lifecycle: raises (sink), sweeps its partitions' rows, notifies."""

    def __init__(self, rt: Runtime, directory: Directory, rules: FollowUpRules, lifecycle: Lifecycle,
                 customer_context: CustomerLookup | None = None) -> None:
        self.rt, self.directory, self.rules, self.lifecycle = rt, directory, rules, lifecycle
        self.customer_context = customer_context
        n = rt.settings.notify
        smtp = EmailNotifier(host=n.smtp_host, port=n.smtp_port, sender=n.smtp_from, timeout=n.timeout_s,
                             starttls=n.smtp_starttls, username=n.smtp_username,
                             password=n.smtp_password.get_secret_value() if n.smtp_password else None) \
            if n.smtp_host else None
        self.notices = NoticeSender(smtp=smtp, sender=n.smtp_from, webhooks=n.webhook_per_person, timeout=n.timeout_s,
                                    max_attempts=n.max_attempts)

    # -- raising ------------------------------------------------------------------------
    async def sink(self, task: FollowUpTask, partition: int | None) -> None:
        """The FollowUpSink port: a row (open, assigned, due per reason) upserted on the task's id (a task raised
        again after a crash stays one row, and one notice), and the record on the followups topic."""
        # a reason named in lifecycle.due_hours gets that due time; others keep the one their capability gave
        # (customers: rules.due_in_hours; receivables: its own config)
        hours = self.lifecycle.due_in_hours(task.reason.value, None)
        task, row = new_row(task, partition, self.directory, hours)
        self.rt.metrics.followups.labels(task.reason.value).inc()
        self.rt.writer.add(FOLLOWUPS, row)
        await self.rt.send(T.FOLLOWUPS, task.customer_id, task)

    async def on_resolved(self, customer_id: str, what: str, now: datetime) -> None:
        """The on_resolved port (a case or an incident just resolved): a valuable customer gets a check call.
        The id names what was resolved and when, so the same resolution seen twice raises once."""
        ctx = await self.customer_context(customer_id) if self.customer_context else None
        if ctx is None or ctx.segment not in self.rules.valuable.segments:
            return
        async with self.rt.engine.connect() as conn:
            partition = (await conn.execute(select(PROFILES.c.partition)
                                            .where(PROFILES.c.customer_id == customer_id))).scalar()
        task = FollowUpTask(
            event_id=stable_id("followup", customer_id, FollowUpReason.resolved_check.value, what, now.isoformat()),
            occurred_at=now, customer_id=customer_id, reason=FollowUpReason.resolved_check,
            owner_rep_id=ctx.owner_rep_id, segment=ctx.segment, churn_risk=float(ctx.churn_risk or 0.0),
            total_spend=max(ctx.value or Decimal(0), Decimal(0)), window_start=now, due_at=now, region=ctx.region,
            detail=f"resolved_check: {what} resolved for a {ctx.segment} customer; check they are satisfied"[:500])
        await self.sink(task, partition)

    # -- sweeps -------------------------------------------------------------------------
    def owned(self) -> set[int]:
        name = self.rt.topic_name(T.ORDERS)
        return {tp.partition for tp in self.rt.assigned if tp.topic == name}

    async def sweep(self, now: datetime) -> tuple[int, int]:
        """Snoozed follow-ups whose time has come open again; overdue ones raise one incident each (the
        conditional escalated_at claim first: of two sweeps, one sends)."""
        woken, late = await store.sweep_rows(self.rt.engine, self.owned(), now)
        n_woken = sum([await store.wake(self.rt.engine, r["event_id"], now) for r in woken])
        if n_woken:
            self.rt.metrics.followup_actions.labels("wake").inc(n_woken)
        escalated = 0
        for row in late:
            if await store.claim_escalation(self.rt.engine, row["event_id"], now):
                ev = overdue_incident(row, now, self.lifecycle.overdue_severity, self.directory)
                await self.rt.send(T.INCIDENTS_RAW, ev.incident_key, ev)
                self.rt.metrics.followups_overdue.inc()
                escalated += 1
        return n_woken, escalated

    async def notify(self, now: datetime) -> int:
        """One notice per person per period listing their new follow-ups (queues are read on the board)."""
        sent = 0
        for pid in await store.unnotified_people(self.rt.engine):
            if pid.startswith(QUEUE):
                continue
            person = self.directory.person(pid)
            if person is None or not person.notify:
                continue
            every = person.notify_every_minutes or self.lifecycle.notify_every_minutes
            start = period_start(now, every)
            rows = await store.claim_notice(self.rt.engine, pid, start, now)
            if not rows:
                continue
            notice = Notice(
                notice_id=stable_id("followup-notice", pid, start.isoformat()), kind="followups",
                subject=f"{len(rows)} new follow-up{'s' if len(rows) != 1 else ''} for {person.name}",
                text="\n".join(f"- {r['customer_id']}: {r['reason']}, due {r['due_at'].isoformat()} (id {r['event_id']})"
                               for r in rows),
                data={"followups": [store.as_api(r) for r in rows]})
            # only the channels the person chose (the sender uses every address it is given)
            to = Target(id=person.id, name=person.name, role=person.role,
                        email=person.email if "email" in person.notify else None,
                        webhook=person.webhook if "webhook" in person.notify else None)
            # claimed: never sent twice; what no channel took stays on the API, the CLI and the board
            if await self.notices.send(notice, to):
                self.rt.metrics.followup_notices.labels("sent").inc()
                sent += 1
            else:
                self.rt.metrics.followup_notices.labels("failed").inc()
                log.warning("follow-up notice to %s reached no channel (%s)", pid, ", ".join(person.notify))
        return sent


def register(rt: Runtime, directory: Directory, rules: FollowUpRules, lifecycle: Lifecycle, gate,
             customer_context: CustomerLookup | None = None) -> FollowUps:
    """Follow-up rows and their sweeps; `FollowUps.sink` and `FollowUps.on_resolved` are the ports the
    composition root hands the customers, cases and escalation capabilities."""
    f = FollowUps(rt, directory, rules, lifecycle, customer_context)
    rt.writer.register(FOLLOWUPS, conflict=["event_id"])
    lock = asyncio.Lock()

    @rt.app.timer(interval=lifecycle.sweep_interval_s)
    async def _sweep() -> None:
        if lock.locked():
            return
        async with lock:
            now = now_utc()
            try:
                await f.sweep(now)
            except Exception:  # database away: the next sweep catches up
                log.exception("follow-ups: sweep failed")
            try:
                await f.notify(now)
            except Exception:
                log.exception("follow-ups: notices failed")

    @rt.app.on_before_shutdown.connect
    async def _close(app, **kwargs) -> None:
        await f.notices.aclose()

    from agents.followups.web import register_pages

    register_pages(rt, f, gate)
    return f


def incident_listener(f: FollowUps, ignore: Iterable[str] = ()) -> Callable:
    """An escalator listener (agents/escalation/agent.py `listeners`) -> on_resolved for a customer's incident
    just resolved; an overdue follow-up's own incident is left out (it would raise a check on itself), and so
    are the categories in `ignore` (a case's breach: the case's own resolution raises the check)."""
    from agents.followups.core import OVERDUE_CATEGORY

    skip = {OVERDUE_CATEGORY, *ignore}

    pending: set[asyncio.Task] = set()

    def listen(s) -> None:
        if s.status != "resolved" or s.resolved_at is None or not s.customer_id or s.category in skip:
            return
        task = asyncio.ensure_future(f.on_resolved(s.customer_id, "incident", s.resolved_at))
        pending.add(task)
        task.add_done_callback(_done(pending))

    return listen


def _done(pending: set):
    def done(task: asyncio.Task) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("follow-ups: resolved check not raised: %s", task.exception())
    return done
