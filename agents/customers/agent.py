"""orders, classified feedback, incidents -> customer profiles (SQL), customers.profiles, followups, business metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import orjson
from sqlalchemy import select

from agents.customers.book import CustomerBook
from agents.customers.codec import money
from agents.customers.config import load_followup_config
from agents.customers.followup import evaluate_followups
from agents.customers.profile import CustomerProfile
from agents.customers.rfmstats import PartitionStats
from agents.customers.snapshot import Wire, profile_churn, snapshot_wire
from agents.escalation.routing import CustomerContext
from pipeline import topics as T
from pipeline.currency import load_rates
from pipeline.db.models import CustomerProfileRow, CustomerRfmStatsRow, FollowUpRow
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.customers import FollowUpTask
from schemas.events import IncidentEvent, OrderEvent
from schemas.feedback import ClassifiedFeedback

log = logging.getLogger(__name__)

PROFILES = CustomerProfileRow.__table__
FOLLOWUPS = FollowUpRow.__table__
RFM_STATS = CustomerRfmStatsRow.__table__

# The follow-up sink port: (task, the customer's orders partition) -> the task stored, published and
# assigned. The followups capability implements it (agents/followups); `Customers.write_followup` is
# the default: the row and the record, nothing more.
FollowUpSink = Callable[[FollowUpTask, int], Awaitable[None]]


def profile_row(p: CustomerProfile, wire: Wire, partition: int, now: datetime) -> dict:
    """The SQL mirror of a published profile: `wire.json` is the record's JSON, parsed."""
    return {
        "customer_id": p.customer_id, "partition": partition, "orders_count": p.orders_count,
        "total_spend": wire.total_spend, "refunds": wire.refunds, "average_order_value": wire.average_order_value,
        "first_order_at": wire.first_order_at, "last_order_at": wire.last_order_at,
        "segment": wire.rfm.segment if wire.rfm else None, "churn_risk": wire.churn_risk, "updated_at": now,
        "snapshot": wire.json, "state": p.to_dict(),
    }


def routing_context(book: CustomerBook, p: CustomerProfile, now: datetime) -> CustomerContext:
    """What escalation routing reads of a profile (the snapshot's segment, churn risk, net spend,
    owner and region) without building the whole snapshot, which costs a third of the worker's
    time per incident. Equal to CustomerContext.from_profile(snapshot)
    (tests/unit/customers/test_routing_context.py)."""
    rfm = book.population.score(p.rfm_key())
    return CustomerContext(segment=rfm.segment if rfm else None,
                           churn_risk=round(profile_churn(p, now, book.params), 4),
                           value=money(p.net), owner_rep_id=p.rep, region=p.region)


class Customers:
    """This worker's customers (the partitions it owns), loaded from SQL on assignment.

    Customers are hash-partitioned, so the customers one worker holds are a random sample of all of
    them: its RFM quintiles estimate the global ones; `salespulse customers show` and the API score
    against every customer in SQL.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.contexts: CustomerContexts | None = None  # other workers' customers, cached (set by register)
        cfg = load_followup_config(rt.settings.paths.resolve("followup", "followup.yaml"))
        self.params, self.rules, self.lifecycle = cfg.scoring, cfg.rules, cfg.lifecycle
        self.sink: FollowUpSink = self.write_followup  # replaced by the composition root
        # the worker refuses to start on a bad file (the KPI capability loads the same one)
        self.rates = load_rates(rt.settings.paths.resolve("currencies", "currencies.yaml"))
        self.book = CustomerBook(self.params, rates=self.rates)
        self.partition_of: dict[str, int] = {}
        self.changed: dict[str, bool] = {}  # customer id -> a negative feedback among the changes
        # RFM histograms of the partitions owned, for readers scoring against every customer
        self.stats: dict[int, PartitionStats] = {}

    async def load(self, partitions: set[int]) -> None:
        """Runs while no event is processed (Runtime.state_ready): the book is swapped without an await between."""
        rows = []
        if partitions:
            async with self.rt.engine.connect() as conn:
                rows = (await conn.execute(select(PROFILES.c.customer_id, PROFILES.c.partition, PROFILES.c.state)
                                           .where(PROFILES.c.partition.in_(sorted(partitions))))).all()
        keep = [p for cid, p in self.book.profiles.items() if self.partition_of.get(cid) in partitions]
        known = {p.customer_id for p in keep}
        loaded = [CustomerProfile.from_dict(state) for cid, _, state in rows if cid not in known]
        self.book = CustomerBook(self.params, keep + loaded, self.rates)
        self.partition_of = {cid: p for cid, p, _ in rows} | {p.customer_id: self.partition_of[p.customer_id] for p in keep}
        await self._load_stats(partitions, {self.partition_of[p.customer_id] for p in loaded})
        log.info("customers: %d profiles for partitions %s", len(self.book.profiles), sorted(partitions))

    async def _load_stats(self, partitions: set[int], reloaded: set[int]) -> None:
        """Histograms of the partitions new to this worker (or with profiles read again) rebuilt from their
        profiles, and all their buckets written with the next flush, the ones SQL holds beyond them as 0:
        the rows equal the profiles in SQL from then on, whatever wrote them before (or nothing did)."""
        fresh = {p for p in partitions if p not in self.stats or p in reloaded}
        self.stats = {p: s for p, s in self.stats.items() if p in partitions and p not in fresh}
        if not fresh:
            return
        for p in fresh:
            self.stats[p] = PartitionStats()
        for cid, profile in self.book.profiles.items():
            part = self.partition_of.get(cid)
            if part in fresh and (key := profile.rfm_key()) is not None:
                self.stats[part].update(None, key)
        async with self.rt.engine.connect() as conn:
            stored = (await conn.execute(select(RFM_STATS.c.partition, RFM_STATS.c.dimension, RFM_STATS.c.bucket)
                                         .where(RFM_STATS.c.partition.in_(sorted(fresh))))).all()
        for part, dim, b in stored:
            self.stats[part].dirty.add((dim, b))
        for p in fresh:
            self.stats[p].dirty.update(self.stats[p].counts)

    def _touch(self, p: CustomerProfile, partition: int, negative_feedback: bool = False) -> None:
        """Mark a changed profile; it is published once per writer flush (publish_changed)."""
        self.partition_of[p.customer_id] = partition
        self.changed[p.customer_id] = self.changed.get(p.customer_id, False) or negative_feedback

    async def publish_changed(self) -> None:
        """Before each flush: per changed customer one snapshot, follow-up check, profile row (in the
        same transaction as the events that changed it) and customers.profiles record (compacted:
        the latest is what counts), instead of one per event; and the RFM histogram buckets those
        changes moved, so the histograms in SQL always count the profiles in SQL."""
        if self.changed:
            changed, self.changed = self.changed, {}
            now = now_utc()
            for cid, negative in changed.items():
                p = self.book.profiles.get(cid)
                if p is not None:  # None: its partition was revoked since
                    await self._publish(p, self.partition_of[cid], now, negative)
        for part, stats in self.stats.items():
            if stats.dirty:
                for row in stats.take(part):
                    self.rt.writer.add(RFM_STATS, row)

    async def write_followup(self, task: FollowUpTask, partition: int) -> None:
        """The sink without the followups capability: the row (state open, the owner rep) and the record."""
        self.rt.metrics.followups.labels(task.reason.value).inc()
        self.rt.writer.add(FOLLOWUPS, {
            "event_id": str(task.event_id), "customer_id": task.customer_id, "reason": task.reason.value,
            "owner_rep_id": task.owner_rep_id, "created_at": task.occurred_at, "due_at": task.due_at,
            "task": task.model_dump(mode="json"), "state": "open", "assignee": task.owner_rep_id,
            "region": task.region, "partition": partition, "updated_at": task.occurred_at})
        await self.rt.send(T.FOLLOWUPS, task.customer_id, task)

    def followups(self, p: CustomerProfile, rfm, churn: float, now: datetime,
                  negative_feedback: bool = False, sweep: bool = False) -> list[FollowUpTask]:
        return evaluate_followups(p, rfm, churn, now, self.rules, negative_feedback,
                                  self.lifecycle.silent_factor, self.params.min_gap_days, sweep)

    async def _publish(self, p: CustomerProfile, partition: int, now: datetime, negative_feedback: bool) -> None:
        book = self.book
        wire = snapshot_wire(p, book.population, now, book.params, book.rates.reporting_currency)
        for task in self.followups(p, wire.rfm, wire.churn_risk, now, negative_feedback):
            await self.sink(task, partition)
        self.rt.writer.add(PROFILES, profile_row(p, wire, partition, now))
        await self.rt.send(T.CUSTOMER_PROFILES, p.customer_id, orjson.dumps(wire.json))

    async def context(self, customer_id: str) -> CustomerContext | None:
        """The customer context port: this worker's profile, else the cache of the others'; never a
        database round trip on the incident path."""
        p = self.book.profiles.get(customer_id)
        if p is not None:
            return routing_context(self.book, p, now_utc())
        return self.contexts.get(customer_id) if self.contexts is not None else None

    async def on_order(self, e: OrderEvent, meta: Meta) -> None:
        m = self.rt.metrics
        known = e.customer_id in self.book.profiles
        p = self.book.profile(e.customer_id)
        before = (p.orders_count, p.net, p.refunds, p.apart and tuple(p.apart.values()))
        key = p.rfm_key()
        self.book.order(e)
        if (moved := p.rfm_key()) != key:
            stats = self.stats.get(meta.partition)
            if stats is None:
                stats = self.stats[meta.partition] = PartitionStats()
            stats.update(key, moved)
        if known and (p.orders_count, p.net, p.refunds, p.apart and tuple(p.apart.values())) == before:
            return  # a status update that changes nothing, or a redelivery
        # in the reporting currency: an order no rate covers is kept apart, counted by
        # salespulse_kpi_unconverted_amount_total, never added here raw
        channel, region, currency = e.channel.value, m.bounded("region", e.region), self.rates.reporting_currency
        if p.orders_count > before[0]:
            m.orders.labels(channel, region).inc(p.orders_count - before[0])
        spend_delta = p.net + p.refunds - before[1] - before[2]  # gross counted spend
        if spend_delta > 0:
            m.revenue.labels(channel, region, currency).inc(spend_delta / 10_000)
        if p.refunds > before[2]:
            m.refunds.labels(channel, region, currency).inc((p.refunds - before[2]) / 10_000)
        self._touch(p, meta.partition)

    async def on_classified(self, cf: ClassifiedFeedback, meta: Meta) -> None:
        negative = cf.sentiment == "negative"
        known = cf.customer_id in self.book.profiles
        p, changed = self.book.feedback(cf.customer_id, cf.event_id, cf.occurred_at, cf.sentiment_score,
                                        negative, cf.category)
        if changed or not known:
            self._touch(p, meta.partition, negative_feedback=negative)

    async def on_incident(self, e: IncidentEvent, meta: Meta) -> None:
        # incidents are partitioned by incident key: only a customer this worker owns is updated here
        if e.customer_id in self.book.profiles and e.customer_id in self.partition_of:
            p = self.book.incident(e)
            self._touch(p, self.partition_of[e.customer_id])

    async def sweep(self, now: datetime) -> int:
        """What time alone raises over this worker's own book: churn risk crossing its threshold, a valuable
        customer falling silent. Each task goes to the sink first and the profile (its fu_* record) is
        published with the next flush: a crash between them raises the same task id again, which the
        sink's upsert keeps once. Scored in parts, the loop served between them."""
        raised = 0
        score = self.book.population.score
        items = [(cid, p) for cid, p in self.book.profiles.items() if p.orders_count]
        for start in range(0, len(items), self.GAUGE_PART):
            for cid, p in items[start:start + self.GAUGE_PART]:
                partition = self.partition_of.get(cid)
                if partition is None:
                    continue
                tasks = self.followups(p, score(p.rfm_key()), profile_churn(p, now, self.params), now, sweep=True)
                for task in tasks:
                    await self.sink(task, partition)
                if tasks:
                    raised += len(tasks)
                    self._touch(p, partition)
            await asyncio.sleep(0)
        return raised

    GAUGE_PART = 1_000  # profiles scored between two turns of the event loop (a few ms)
    GAUGE_SHARE = 0.02  # at most this share of the loop's time goes to the segment gauges

    async def update_gauges(self) -> None:
        """Customers per RFM segment. Every profile is scored against the moving population: with a
        million profiles that is seconds of work, done in parts so events are served meanwhile."""
        counts: dict[str, int] = {}
        score = self.book.population.score  # the segment only, not a whole snapshot per profile
        profiles = list(self.book.profiles.values())
        for start in range(0, len(profiles), self.GAUGE_PART):
            for p in profiles[start:start + self.GAUGE_PART]:
                rfm = score(p.rfm_key())
                seg = rfm.segment if rfm else "No orders"
                counts[seg] = counts.get(seg, 0) + 1
            await asyncio.sleep(0)
        g = self.rt.metrics.segment_customers
        g.clear()
        for seg, n in counts.items():
            g.labels(seg).set(n)
        self.rt.metrics.table_size.labels("customers").set(len(self.book.profiles))


class CustomerContexts:
    """Escalation routing's context of customers whose profiles other workers own, from SQL.

    Read every 10 s, incrementally (rows updated since the last read), without this worker's own
    partitions (their profiles are in its book) and without the snapshot JSON: the owner and region
    are extracted by the database: re-reading and parsing every snapshot, its own included, costs
    one worker 175-860 ms of its event loop every 10 s at 550 events/s, the latency tail's largest
    single stall. Rows are taken in parts, the loop served between them."""

    PART = 500

    def __init__(self, rt: Runtime, customers: Customers) -> None:
        self.rt = rt
        self.customers = customers
        self.by_id: dict[str, CustomerContext] = {}
        self.since: datetime | None = None
        self.own: set[int] = set()
        self.rows_read = 0  # rows read by the last refresh (tests, logs)

    def get(self, customer_id: str) -> CustomerContext | None:
        return self.by_id.get(customer_id)

    def assigned(self, partitions: set[int]) -> None:
        """A new assignment: profiles of partitions given up were never read; read everything again."""
        if partitions != self.own:
            self.own = set(partitions)
            self.since = None

    async def refresh(self) -> None:
        snap = PROFILES.c.snapshot
        q = select(PROFILES.c.customer_id, PROFILES.c.segment, PROFILES.c.churn_risk,
                   snap["total_spend"].as_string(), snap["owner_rep_id"].as_string(), snap["region"].as_string(),
                   PROFILES.c.updated_at)
        since = self.since
        if since is not None:
            q = q.where(PROFILES.c.updated_at >= since)
        if self.own:
            q = q.where(PROFILES.c.partition.not_in(sorted(self.own)))
        read, latest = 0, since
        async with self.rt.engine.connect() as conn:
            result = await conn.stream(q)
            async for part in result.partitions(self.PART):
                for cid, segment, churn, value, owner, region, updated in part:
                    self.by_id[cid] = CustomerContext(segment=segment, churn_risk=churn, value=value,
                                                      owner_rep_id=owner, region=region)
                    if latest is None or updated > latest:
                        latest = updated
                read += len(part)
                await asyncio.sleep(0)  # the event loop serves the stream between parts
        self.since, self.rows_read = latest, read


class DigestJob:
    """Hourly and daily FeedbackDigest of the last complete period, built from SQL (all partitions)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.sent: set[tuple[str, datetime]] = set()

    async def run(self, now: datetime) -> None:
        from datetime import timedelta

        from agents.customers.digest import ClassifiedFeedback as Record
        from agents.customers.digest import build_digest
        from pipeline.db.models import ClassifiedFeedbackRow as F

        for period, length in (("hour", timedelta(hours=1)), ("day", timedelta(days=1))):
            if period == "hour":
                start = now.replace(minute=0, second=0, microsecond=0) - length
            else:
                start = now.replace(hour=0, minute=0, second=0, microsecond=0) - length
            if (period, start) in self.sent:
                continue
            async with self.rt.engine.connect() as conn:
                rows = (await conn.execute(
                    select(F.event_id, F.occurred_at, F.customer_id, F.channel, F.sentiment_score, F.sentiment,
                           F.category, PROFILES.c.snapshot)
                    .join(PROFILES, PROFILES.c.customer_id == F.customer_id, isouter=True)
                    .where(F.occurred_at >= start - length, F.occurred_at < start + length))).all()
            import uuid as _uuid

            records = [Record(event_id=_uuid.UUID(r[0]), occurred_at=r[1], customer_id=r[2], channel=r[3],
                              region=(r[7] or {}).get("region"), sentiment_score=r[4], negative=r[5] == "negative",
                              category=r[6]) for r in rows]
            digest = build_digest(records, period, start)
            await self.rt.send(T.DIGESTS, f"{period}:{start.isoformat()}", digest)
            self.sent.add((period, start))


def register(rt: Runtime) -> Customers:
    """Orders, classified feedback (`Customers.on_classified`, wired to the feedback capability by the
    composition root) and incidents -> profiles, follow-ups, digests; `Customers.context` is the
    customer context port the escalation chain reads."""
    c = Customers(rt)
    rt.writer.register(PROFILES, conflict=["customer_id"],
                       update=[col.name for col in PROFILES.columns if col.name != "customer_id"])
    rt.writer.register(FOLLOWUPS, conflict=["event_id"])
    rt.writer.register(RFM_STATS, conflict=["dimension", "bucket", "partition"], update=["customers"])
    rt.on("order", c.on_order)
    rt.on("incident", c.on_incident)
    rt.writer.before_flush(c.publish_changed)

    contexts = c.contexts = CustomerContexts(rt, c)

    @rt.app.timer(interval=10.0)
    async def _contexts() -> None:
        try:
            await contexts.refresh()
        except Exception as exc:  # database briefly away: the next tick catches up
            log.warning("customer contexts not refreshed: %s", exc)

    async def _load(assigned) -> None:
        name = rt.topic_name(T.ORDERS)
        partitions = {tp.partition for tp in assigned if tp.topic == name}
        await c.load(partitions)
        contexts.assigned(partitions)

    rt.on_assigned(_load)

    gauges = {"due": 0.0}

    @rt.app.timer(interval=15.0)
    async def _gauges() -> None:
        # every 15 s while scoring every profile is cheap; with a million profiles (seconds of work) as
        # often as keeps it under GAUGE_SHARE of the loop, so reads and events are not held up behind it
        loop = asyncio.get_running_loop()
        if loop.time() < gauges["due"]:
            return
        started = loop.time()
        await c.update_gauges()
        gauges["due"] = started + (loop.time() - started) / c.GAUGE_SHARE

    sweeps = {"due": 0.0}

    @rt.app.timer(interval=c.lifecycle.sweep_interval_s)
    async def _followup_sweep() -> None:
        # every sweep_interval_s while the book is small; with a large book as often as keeps the sweep under
        # GAUGE_SHARE of the loop (a crossing is then raised a few intervals late, never missed)
        loop = asyncio.get_running_loop()
        if not rt.state_ready.is_set() or loop.time() < sweeps["due"]:
            return  # (not ready: an assignment is loading and the book is about to be swapped)
        started = loop.time()
        try:
            await c.sweep(now_utc())
        except Exception:  # a failed sweep raises nothing; the next one catches up
            log.exception("customers: follow-up sweep failed")
        sweeps["due"] = started + (loop.time() - started) / c.GAUGE_SHARE

    digests = DigestJob(rt)

    @rt.app.timer(interval=60.0)
    async def _digest() -> None:
        feedback_p0 = rt.topic_name(T.FEEDBACK_RAW)
        if any(tp.topic == feedback_p0 and tp.partition == 0 for tp in rt.assigned):  # one worker publishes
            await digests.run(now_utc())

    return c
