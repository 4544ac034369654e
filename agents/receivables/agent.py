"""orders (invoiced, paid, cancelled), clock -> receivables (SQL), payment_overdue follow-ups (FollowUpSink),
finance notices (email / webhook), salespulse_receivables_overdue_total."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select

from agents.escalation.directory import Directory
from agents.escalation.routing import CustomerLookup
from agents.receivables.config import ReceivablesConfig, load_receivables_config
from agents.receivables.core import Owner, Receivable, ReceivablesBook, followup_task, notice_text
from pipeline import topics as T
from pipeline.currency import Rates, load_rates
from pipeline.db.models import FollowUpRow, ReceivableRow
from pipeline.notify.notice import Notice, NoticeSender
from pipeline.notify.smtp import EmailNotifier
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.customers import FollowUpTask, stable_id
from schemas.events import OrderEvent

log = logging.getLogger(__name__)

RECEIVABLES = ReceivableRow.__table__
FOLLOWUPS = FollowUpRow.__table__
COLUMNS = ("order_id", "customer_id", "amount", "currency", "amount_reporting", "invoiced_at", "due_at", "rep",
           "team", "region", "paid_at", "cancelled_at", "overdue_raised_at")


class FollowUpSink(Protocol):
    """Where a follow-up task goes (the follow-ups capability owns its row, assignee and notice)."""

    def __call__(self, task: FollowUpTask, partition: int) -> Awaitable[None]: ...


def default_followup_sink(rt: Runtime) -> FollowUpSink:
    """Until a follow-ups capability is wired: the row and the record, as the customers capability writes them."""
    rt.writer.register(FOLLOWUPS, conflict=["event_id"])

    async def sink(task: FollowUpTask, partition: int) -> None:
        rt.metrics.followups.labels(task.reason.value).inc()   # a sink counts what it raises, as the capability's does
        rt.writer.add(FOLLOWUPS, {
            "event_id": str(task.event_id), "customer_id": task.customer_id, "reason": task.reason.value,
            "owner_rep_id": task.owner_rep_id, "created_at": task.occurred_at, "due_at": task.due_at,
            "task": task.model_dump(mode="json")})
        await rt.send(T.FOLLOWUPS, task.customer_id, task)

    return sink


def row(r: Receivable, partition: int, now: datetime) -> dict:
    return {**{c: getattr(r, c) for c in COLUMNS}, "partition": partition, "state": r.state, "updated_at": now}


def from_row(m) -> Receivable:
    return Receivable(**{c: m[c] for c in COLUMNS})


def notice_sender(rt: Runtime) -> NoticeSender:
    n = rt.settings.notify
    smtp = EmailNotifier(host=n.smtp_host, port=n.smtp_port, sender=n.smtp_from, timeout=n.timeout_s,
                         starttls=n.smtp_starttls, username=n.smtp_username,
                         password=n.smtp_password.get_secret_value() if n.smtp_password else None) \
        if n.smtp_host else None
    return NoticeSender(smtp=smtp, sender=n.smtp_from, webhooks=n.webhook_per_person, timeout=n.timeout_s,
                        max_attempts=n.max_attempts)


class Receivables:
    """The invoiced orders of the `orders` partitions this worker owns (open and settled, so a late event of
    a settled order changes nothing), loaded from SQL on assignment; the overdue sweep over them."""

    def __init__(self, rt: Runtime, cfg: ReceivablesConfig, rates: Rates, directory: Directory,
                 followup_sink: FollowUpSink, customer_context: CustomerLookup | None = None,
                 rep_team: dict[str, str] | None = None) -> None:
        self.rt, self.cfg, self.rates, self.directory = rt, cfg, rates, directory
        self.sink, self.customer_context = followup_sink, customer_context
        self.rep_team = rep_team or {}
        self.book = ReceivablesBook(cfg.payment_terms_days, rates.convert)
        self.partition_of: dict[str, int] = {}
        self.notices: NoticeSender | None = None
        self._sending: set[asyncio.Task] = set()
        self._sweeping = asyncio.Lock()

    async def owner(self, e: OrderEvent) -> Owner:
        rep, region = e.sales_rep_id, e.region
        if (rep is None or region is None) and self.customer_context is not None:
            ctx = await self.customer_context(e.customer_id)
            if ctx is not None:
                rep, region = rep or ctx.owner_rep_id, region or ctx.region
        person = self.directory.person(rep)
        team = (person.team if person is not None else None) or self.rep_team.get(rep or "")
        return Owner(rep, team, region or (person.region if person is not None else None))

    async def on_order(self, e: OrderEvent, meta: Meta) -> None:
        if not self.book.wants(e):
            return  # not a receivable (the common case: no look-up at all)
        known = e.order_id in self.book.by_order
        new = self.book.order(e, Owner(None, None, None) if known else await self.owner(e))
        if new is not None:
            self.partition_of[e.order_id] = meta.partition
            self.rt.writer.add(RECEIVABLES, row(new, meta.partition, now_utc()), meta)

    async def load(self, partitions: set[int]) -> None:
        async with self._sweeping:  # a sweep in progress finishes over the book it started with
            await self._load(partitions)

    async def _load(self, partitions: set[int]) -> None:
        for oid in [o for o, p in self.partition_of.items() if p not in partitions]:
            self.book.by_order.pop(oid, None)
            self.partition_of.pop(oid, None)
        fresh = partitions - set(self.partition_of.values())
        if not fresh:
            return
        async with self.rt.engine.connect() as conn:
            rows = (await conn.execute(select(RECEIVABLES).where(RECEIVABLES.c.partition.in_(sorted(fresh))))).mappings().all()
        for m in rows:
            if m["order_id"] not in self.book.by_order:
                self.book.by_order[m["order_id"]], self.partition_of[m["order_id"]] = from_row(m), m["partition"]
        log.info("receivables: %d for partitions %s", len(rows), sorted(fresh))

    async def sweep(self, now: datetime) -> list[Receivable]:
        """Overdue receivables -> the rep's follow-up (through the sink) and the finance notice, once each: the
        marker is written with the follow-up, and the notice leaves once both are in SQL."""
        async with self._sweeping:
            raised = [r for r in self.book.sweep(now) if r.order_id in self.partition_of]
            for marked in raised:
                partition = self.partition_of[marked.order_id]  # load() waits for the sweep: still ours
                self.rt.writer.add(RECEIVABLES, row(marked, partition, now))
                churn, spend = 0.0, Decimal(0)
                if self.customer_context is not None and (ctx := await self.customer_context(marked.customer_id)):
                    churn, spend = ctx.churn_risk or 0.0, max(Decimal(str(ctx.value or 0)), Decimal(0))
                try:
                    task = followup_task(marked, now, self.cfg.overdue.followup_due_hours, churn, spend)
                except ValueError as exc:  # data the task cannot carry: finance is still told, the sweep goes on
                    log.warning("payment_overdue follow-up of order %s not raised: %s", marked.order_id, exc)
                else:
                    await self.sink(task, partition)
                m = self.rt.metrics
                m.receivables_overdue.labels(m.bounded("region", marked.region)).inc()
            if raised:
                self.rt.writer.ack_after(lambda batch=tuple(raised): self._notify(batch, now))
            return raised

    def _notify(self, batch: tuple[Receivable, ...], now: datetime) -> None:
        task = asyncio.ensure_future(self._send_notices(batch, now))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_notices(self, batch: tuple[Receivable, ...], now: datetime) -> None:
        if self.notices is None:
            self.notices = notice_sender(self.rt)
        for r in batch:
            subject, text = notice_text(r, now)
            notice = Notice(stable_id("receivable-overdue", r.order_id), "payment_overdue", subject, text,
                            {"order_id": r.order_id, "customer_id": r.customer_id, "amount": str(r.amount),
                             "currency": r.currency, "due_at": r.due_at.isoformat(), "rep": r.rep,
                             "team": r.team, "region": r.region})
            for person in self.directory.resolve(self.cfg.overdue.finance_role, region=r.region):
                try:
                    for channel in await self.notices.send(notice, person.target()):
                        self.rt.metrics.notices_sent.labels("payment_overdue", channel).inc()
                except Exception:  # a notice must never stop the sweep
                    log.exception("finance notice of order %s not sent", r.order_id)

    async def close(self) -> None:
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=3.0)
        if self.notices is not None:
            await self.notices.aclose()


def register(rt: Runtime, directory: Directory, followup_sink: FollowUpSink | None = None,
             customer_context: CustomerLookup | None = None, rep_team: dict[str, str] | None = None,
             ) -> Receivables:
    """orders -> receivables; the sweep every `overdue.sweep_interval_s` on the owner of each partition.
    `followup_sink`: the follow-ups capability's port (default: the followups row and record)."""
    cfg = load_receivables_config(rt.settings.paths.resolve("receivables", "receivables.yaml"))
    rates = load_rates(rt.settings.paths.resolve("currencies", "currencies.yaml"))
    rec = Receivables(rt, cfg, rates, directory, followup_sink or default_followup_sink(rt), customer_context,
                      rep_team)
    rt.writer.register(RECEIVABLES, conflict=["order_id"],
                       update=[c.name for c in RECEIVABLES.columns if c.name != "order_id"])
    rt.on("order", rec.on_order)

    async def _load(assigned) -> None:
        name = rt.topic_name(T.ORDERS)
        await rec.load({tp.partition for tp in assigned if tp.topic == name})

    rt.on_assigned(_load)

    @rt.app.timer(interval=cfg.overdue.sweep_interval_s)
    async def _sweep() -> None:
        if rt.state_ready.is_set():  # the book of every owned partition is loaded
            await rec.sweep(now_utc())

    @rt.app.on_before_shutdown.connect
    async def _close(app, **kwargs) -> None:
        await rec.close()

    return rec
