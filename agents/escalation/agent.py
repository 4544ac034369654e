"""incidents.raw, incidents.commands, clock -> escalation state (SQL), alerts (webhook, email, escalations topic, log), audit."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from agents.escalation.core import Change, EscalationCore, Outcome
from agents.escalation.policy import Policy, load_policy
from agents.escalation.routing import CustomerContext, CustomerLookup
from agents.escalation.state import OPEN, IncidentState, next_deadline
from pipeline.consume import consume
from pipeline import topics as T
from pipeline.db.models import IncidentAudit, IncidentRow
from pipeline.decode import Rejected, describe
from pipeline.notify.base import DeliveryResult
from pipeline.notify.dispatcher import Dispatcher
from pipeline.notify.log import LogNotifier
from pipeline.notify.smtp import EmailNotifier
from pipeline.notify.topic import TopicNotifier
from pipeline.notify.webhook import WebhookNotifier
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.deadletter import DeadLetterReason
from schemas.escalation import CONTROL_ADAPTER, EscalationAlert, IncidentCommand, IncidentStorm
from schemas.events import IncidentEvent

log = logging.getLogger(__name__)

INCIDENTS = IncidentRow.__table__
AUDIT = IncidentAudit.__table__
# The open-incidents gauge walks every incident state: O(open incidents) each time, 2% of the
# worker's main thread at 1 s with a few thousand open. Every 5 s
# is still as fine as Prometheus scrapes it (config/prometheus/prometheus.yml).
GAUGE_INTERVAL_S = 5.0


def audit_id(*parts: object) -> str:
    """A stable id for an audit row (idempotent upserts when an event or a delivery is replayed)."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def incident_row(s: IncidentState, partition: int, now: datetime) -> dict:
    return {
        "incident_key": s.incident_key, "partition": partition, "status": s.status,
        "severity": s.severity.value, "category": s.category, "title": s.title,
        "customer_id": s.customer_id, "region": s.region, "level": s.current.level + 1,
        "level_name": s.current.name, "loop": s.loop, "count": s.count, "first_seen": s.first_seen,
        "last_seen": s.last_seen, "next_deadline": next_deadline(s), "acked_by": s.acked_by,
        "acked_at": s.acked_at, "resolved_by": s.resolved_by, "resolved_at": s.resolved_at,
        "parent_key": s.parent_key, "updated_at": now, "state": s.to_dict(),
    }


class Escalator:
    """The worker's driver of the escalation core: the owning worker's incidents (by partition) with a
    wall clock, their rows in SQL, follow-up commands on Kafka, and delivery."""

    def __init__(self, rt: Runtime, policy: Policy) -> None:
        self.rt = rt
        self.policy = policy
        self.core = EscalationCore(policy)
        self.partition_of: dict[str, int] = {}
        # incidents taken over from SQL (restart, rebalance): only their alerts may have been sent
        # already by another process, so only they pay for the audit look-up before delivery
        self.recovered: set[str] = set()
        self.dispatcher: Dispatcher | None = None
        self._gauges_at = 0.0
        # callables(IncidentState) told of every state change (the incident board's live updates)
        self.listeners: list[Callable[[IncidentState], None]] = []
        # the customer context port (segment, owner, region of a customer), wired by the composition root
        self.customer_context: CustomerLookup | None = None
        self.gate = None  # the read gate of the HTTP routes (agents/escalation/web.py), set with the pages

    @property
    def states(self) -> dict[str, IncidentState]:
        return self.core.states

    # -- persistence --------------------------------------------------------------------
    async def apply(self, out: Outcome, partition: int | None, now: datetime) -> None:
        """Store what the core decided, send its pages, and its follow-up commands to incidents.commands.

        `partition`: where the changed incidents live (None: where each already lives, e.g. for the clock)."""
        for c in out.changes:
            self.save(c, self.partition_of[c.state.incident_key] if partition is None else partition, now)
            self.fire(list(c.alerts))
        for ctl in out.follow_ups:
            await self.rt.send(T.INCIDENT_COMMANDS, ctl.incident_key, ctl)

    def save(self, c: Change, partition: int, now: datetime) -> None:
        s = c.state
        self.partition_of[s.incident_key] = partition
        for listener in self.listeners:
            try:
                listener(s)
            except Exception:  # a page's subscriber must never break escalation
                log.exception("incident listener failed")
        self.rt.writer.add(INCIDENTS, incident_row(s, partition, now))
        if c.action:
            self.rt.writer.add(AUDIT, {
                "id": audit_id(s.incident_key, c.action, s.epoch, s.count, s.loop, c.actor),
                "incident_key": s.incident_key, "at": now, "action": c.action,
                "level": s.current.level + 1, "loop": s.loop, "notification_id": None,
                "channel": None, "recipient": None, "actor": c.actor, "detail": c.detail,
            })

    async def load(self, partitions: set[int]) -> None:
        """On assignment: the open incidents of our partitions, with their deadlines, from SQL."""
        for key in [k for k, p in self.partition_of.items() if p not in partitions]:
            self.core.forget(key)
            self.partition_of.pop(key, None)
        if not partitions:
            return
        async with self.rt.engine.connect() as conn:
            rows = (await conn.execute(
                select(INCIDENTS.c.incident_key, INCIDENTS.c.partition, INCIDENTS.c.state)
                .where(INCIDENTS.c.partition.in_(sorted(partitions)), INCIDENTS.c.status.in_(sorted(OPEN)))
            )).all()
        for key, partition, state in rows:
            if key not in self.states:
                self.core.adopt(IncidentState.from_dict(state))
                self.partition_of[key] = partition
                self.recovered.add(key)
        log.info("escalation: %d open incidents loaded for partitions %s", len(rows), sorted(partitions))

    def fire(self, alerts: list[EscalationAlert]) -> None:
        """Pages go out once the state that records them is in SQL (the same batch as the event's
        ack): a worker killed before that leaves neither, and the next owner pages exactly once.
        Killed in the milliseconds between that commit and the send, the level's page is lost, but
        its deadline is in SQL and the next level is paged when it passes. (Re-sending every page
        with no delivery on record after a take-over would page twice instead: deliveries are
        recorded a flush after they happen.) While the database is down, pages go out at once."""
        if not alerts:
            return
        m = self.rt.metrics
        for a in alerts:
            m.escalations.labels(str(a.level), a.severity.value).inc()
        if self.rt.writer.healthy:
            self.rt.writer.ack_after(lambda: self._submit(alerts))
        else:
            self._submit(alerts)

    def _submit(self, alerts: list[EscalationAlert]) -> None:
        for a in alerts:
            self.dispatcher.submit(a)

    def is_muted(self, alert: EscalationAlert) -> bool:
        s = self.states.get(alert.incident_key)
        return s is not None and s.epoch == alert.epoch and s.status in ("acknowledged", "resolved")

    async def already_sent(self, alert: EscalationAlert, channel: str, recipient: str | None) -> bool:
        if alert.incident_key not in self.recovered:
            return False
        q = select(AUDIT.c.id).where(AUDIT.c.notification_id == str(alert.notification_id),
                                     AUDIT.c.channel == channel, AUDIT.c.action == "notify:delivered")
        q = q.where(AUDIT.c.recipient.is_(None) if recipient is None else AUDIT.c.recipient == recipient)
        try:
            async with self.rt.engine.connect() as conn:
                return (await conn.execute(q.limit(1))).first() is not None
        except Exception:  # database down: deliver (at least once) rather than stay silent
            return False

    def on_result(self, r: DeliveryResult) -> None:
        m = self.rt.metrics
        if r.outcome == "delivered":
            m.notify_sent.labels(r.channel).inc()
            m.notify_latency.labels(r.channel).observe(r.duration_seconds)
        self.rt.writer.add(AUDIT, {
            "id": audit_id(r.notification_id, r.channel, r.recipient, r.attempt, r.outcome),
            "incident_key": r.incident_key, "at": r.at, "action": f"notify:{r.outcome}", "level": r.level,
            "loop": r.loop, "notification_id": str(r.notification_id), "channel": r.channel,
            "recipient": r.recipient, "actor": None, "detail": r.error,
        })

    def on_failure(self, channel: str, reason: str) -> None:
        self.rt.metrics.notify_failures.labels(channel, reason).inc()

    # -- inputs -------------------------------------------------------------------------
    async def on_incident(self, event: IncidentEvent, meta: Meta) -> None:
        now = now_utc()
        customer = await self._customer(event.customer_id)
        await self.apply(self.core.incident(event, customer, now), meta.partition, now)

    async def _customer(self, customer_id: str | None) -> CustomerContext | None:
        lookup = self.customer_context
        if lookup is None or customer_id is None:
            return None
        try:
            async with asyncio.timeout(0.2):  # (no extra task per incident, unlike wait_for)
                found = await lookup(customer_id)
        except Exception:  # no profile context is normal; never delay a page for it
            return None
        if found is None or isinstance(found, CustomerContext):
            return found
        return CustomerContext.from_profile(found)

    async def on_control(self, ctl: IncidentCommand | IncidentStorm, meta: Meta) -> None:
        now = now_utc()
        out = self.core.control(ctl, now)
        if out.unknown:
            log.warning("%s for unknown incident %s ignored", ctl.type, ctl.incident_key)
        for c in out.changes:
            if c.action == "acknowledged" and c.state.acked_at:
                s = c.state
                self.rt.metrics.time_to_ack.labels(s.severity.value).observe(
                    max(0.0, (s.acked_at - s.first_seen).total_seconds()))
        await self.apply(out, meta.partition, now)

    async def sweep(self) -> None:
        """Fire every deadline that has passed (also those missed while no worker owned them)."""
        now = now_utc()
        out = self.core.sweep(now)
        for c in out.changes:
            self.rt.metrics.deadline_misses.labels(str(c.missed)).inc(max(1, len(c.alerts)))
        await self.apply(out, None, now)
        if time.monotonic() - self._gauges_at >= GAUGE_INTERVAL_S:
            self.update_gauges()
        self.rt.metrics.sweep_heartbeat.set(now.timestamp())  # a stalled sweep pages nobody: alert on it

    def update_gauges(self) -> None:
        self._gauges_at = time.monotonic()
        g = self.rt.metrics.incidents_open
        g.clear()
        counts: dict[tuple[str, str], int] = {}
        for s in self.states.values():
            if s.is_open:
                k = (s.severity.value, str(s.current.level + 1))
                counts[k] = counts.get(k, 0) + 1
        for (sev, level), n in counts.items():
            g.labels(sev, level).set(n)


def notifiers(rt: Runtime) -> list:
    n = rt.settings.notify
    out: list = [LogNotifier()]
    if n.webhook_url or n.webhook_per_person:
        out.append(WebhookNotifier(url=n.webhook_url, slack=n.slack_format, timeout=n.timeout_s))
    if n.smtp_host:
        out.append(EmailNotifier(host=n.smtp_host, port=n.smtp_port, sender=n.smtp_from, timeout=n.timeout_s,
                                 starttls=n.smtp_starttls, username=n.smtp_username,
                                 password=n.smtp_password.get_secret_value() if n.smtp_password else None))

    topic = rt.topic_name(T.ESCALATIONS)

    async def produce(alert: EscalationAlert) -> None:
        # straight to the producer: faust's Topic.send adds a channel hop we do not need per alert
        await rt.app.producer.send(topic, alert.incident_key.encode(), alert.model_dump_json().encode(),
                                   partition=None, timestamp=None, headers=None)

    out.append(TopicNotifier(produce))
    return out


def register(rt: Runtime, customer_context: CustomerLookup | None = None) -> Escalator:
    """incidents.raw and incidents.commands -> incident state, pages, the board's listeners;
    `customer_context` is the port the chain reads a customer's segment, owner and region from."""
    paths = rt.settings.paths
    policy = load_policy(paths.resolve("escalation_policy", "escalation.yaml"),
                         paths.resolve("directory", "directory.yaml"))
    esc = Escalator(rt, policy)
    esc.customer_context = customer_context
    rt.metrics.zero_failures([], [notifier.channel for notifier in notifiers(rt)])
    # the organisation's regions are the directory's: an invented region in an event is "other" on metrics
    rt.metrics.allow("region", {p.region for p in policy.directory.people if p.region})
    rt.writer.register(INCIDENTS, conflict=["incident_key"], update=[c.name for c in INCIDENTS.columns if c.name != "incident_key"])
    rt.writer.register(AUDIT, conflict=["id"])
    rt.on("incident", esc.on_incident)
    app = rt.app
    n = rt.settings.notify

    @app.task
    async def _start_dispatcher() -> None:
        esc.dispatcher = Dispatcher(notifiers(rt), is_muted=esc.is_muted, already_sent=esc.already_sent,
                                    on_result=esc.on_result, on_failure=esc.on_failure,
                                    max_attempts=n.max_attempts, attempt_timeout=n.timeout_s + 1,
                                    workers=n.delivery_concurrency)
        await esc.dispatcher.start()

    async def _load(assigned) -> None:
        name = rt.topic_name(T.INCIDENTS_RAW)
        await esc.load({tp.partition for tp in assigned if tp.topic == name})

    rt.on_assigned(_load)

    @app.timer(interval=n.sweep_interval_s)
    async def _sweep() -> None:
        if esc.dispatcher is not None:
            await esc.sweep()

    @app.on_before_shutdown.connect
    async def _close(app, **kwargs) -> None:
        if esc.dispatcher is not None:
            await esc.dispatcher.close(drain_timeout=3.0)

    _commands_agent(rt, esc)
    from agents.escalation.web import register_pages

    register_pages(rt, esc)
    return esc


def _commands_agent(rt: Runtime, esc: Escalator) -> None:
    from pydantic import ValidationError

    def decode_control(value: bytes | None, meta: Meta) -> IncidentCommand | IncidentStorm | Rejected:
        try:
            return CONTROL_ADAPTER.validate_json(value or b"")
        except ValidationError as exc:
            return Rejected(DeadLetterReason.schema_violation, describe(exc))

    consume(rt, T.INCIDENT_COMMANDS, "escalation-commands", decode_control, esc.on_control)
