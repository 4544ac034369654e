"""orders, funnel, campaign.spend -> KPI facts (SQL, in the events' flush) and cells (within a second),
kpis (KpiSnapshot, throttled per window), salespulse_kpi_unconverted_amount_total.

One KpiState per source partition: orders and funnel moves are keyed by customer, spend by campaign, so a
partition's facts and cells belong to whichever worker owns it, and every worker's cells add up on read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from agents.kpis.cells import COMPANY
from agents.kpis.report import kpi_snapshots
from agents.kpis.rollups import (CELL_KEY, CELLS, FACTS, changed_cell_rows, changed_fact_rows, load_facts, merged,
                                 read_cells, stored_cells)
from agents.kpis.state import KpiState, Portrait, apply_funnel, apply_order, apply_spend
from agents.kpis.targets import TargetsConfig, load_targets
from agents.customers.codec import from_us, to_us
from agents.kpis.windows import bucket
from pipeline import topics as T
from pipeline.currency import Rates, load_rates
from pipeline.runtime import now_utc
from pipeline.web import broker_connected
from schemas.events import CampaignSpendEvent, FunnelEvent, OrderEvent, OrderStatus

log = logging.getLogger(__name__)

# The statuses whose amount is money that moved: a created / shipped / delivered event repeats the order total.
COUNTED = frozenset({OrderStatus.paid, OrderStatus.refunded})
# Which cell kinds each source topic's partitions hold.
SOURCES = {"orders": ("o", "a"), "funnel": ("f", "p"), "spend": ("s", "x")}
PUBLISH_EVERY_S = 5.0     # a window's KpiSnapshot is published at most this often
CELLS_EVERY_S = 1.0       # changed cells are written at most this often (Kpis.write_cells)
# A customer's net value in the reporting currency -> the band the funnel portrait counts them in.
VALUE_BANDS = ((Decimal(100), "under 100"), (Decimal(1000), "100-1k"), (Decimal(10000), "1k-10k"))


def value_band(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return next((name for limit, name in VALUE_BANDS if value < limit), "10k+")


class Kpis:
    def __init__(self, rt, rates: Rates, targets: TargetsConfig, customer_context=None) -> None:
        self.rt, self.rates, self.targets = rt, rates, targets
        self.customer_context = customer_context    # the customer context port, for funnel portraits
        self.states: dict[tuple[str, int], KpiState] = {}
        self.dirty: set[tuple[str, int]] = set()
        self.windows: set[tuple[str, int]] = set()     # (granularity, bucket) changed since the last publish
        self.published: dict[tuple[str, int], float] = {}
        self.cells_due: set[tuple[str, int]] = set()     # states whose changed cells are not yet written
        self.cells_written = 0.0

    def state(self, source: str, partition: int) -> KpiState:
        key = (source, partition)
        s = self.states.get(key)
        if s is None:
            s = self.states[key] = KpiState(self.rates, self.targets.rep_team)
        self.dirty.add(key)
        return s

    def _count_unconverted(self, currency: str, amount, at) -> None:
        if self.rates.convert(amount, currency, at) is None:
            m = self.rt.metrics
            m.kpi_unconverted.labels(m.bounded("currency", currency)).inc(float(amount))

    async def on_order(self, e: OrderEvent, meta) -> None:
        if e.status in COUNTED:
            self._count_unconverted(e.currency, e.amount, e.occurred_at)
        apply_order(self.state("orders", meta.partition), e)

    async def on_funnel(self, e: FunnelEvent, meta) -> None:
        portrait = Portrait()
        if self.customer_context is not None:
            ctx = await self.customer_context(e.customer_id)
            if ctx is not None:
                portrait = Portrait(ctx.segment, value_band(ctx.value))
        apply_funnel(self.state("funnel", meta.partition), e, portrait)

    async def on_spend(self, e: CampaignSpendEvent, meta) -> None:
        self._count_unconverted(e.currency, e.amount, e.occurred_at)
        apply_spend(self.state("spend", meta.partition), e)

    async def write_changed(self) -> None:
        """Before each flush: the changed facts, in the same transaction as the events' acks, and the
        cells they changed at most every CELLS_EVERY_S (`write_cells`)."""
        if self.dirty:
            dirty, self.dirty = self.dirty, set()
            writer = self.rt.writer
            for key in dirty:
                s = self.states.get(key)
                if s is not None:
                    for row in changed_fact_rows(s, key[1]):
                        writer.add(FACTS, row)
                    self.cells_due.add(key)
        if self.cells_due and time.monotonic() - self.cells_written >= CELLS_EVERY_S:
            self.write_cells()

    def write_cells(self) -> None:
        """The cells changed since they were last written, to the writer's next flush.

        The facts are what the KPIs are: a worker taking a partition over rebuilds its cells from them
        and corrects what SQL holds (`load`), so the cells, a read model of the facts, may be written
        less often than the events. Written every flush, they were most of its rows (9.5 cells per
        order at 400 orders/s and a 20 ms flush; 1.3 when written once a second); GET /kpis is at most
        that much behind, and KPI snapshots are published every PUBLISH_EVERY_S anyway."""
        due, self.cells_due = self.cells_due, set()
        self.cells_written = time.monotonic()
        writer = self.rt.writer
        at = to_us(now_utc())
        changed: set[tuple[str, int]] = set()
        for key in due:
            s = self.states.get(key)
            if s is None:   # revoked since: its new owner corrects the cells when it loads
                continue
            for row in changed_cell_rows(s, key[1], at):
                writer.add(CELLS, row)
                if row["scope"] == COMPANY:
                    changed.add((row["granularity"], row["bucket"]))
        if changed:
            # marked for publishing once these cells are committed: a snapshot read while the flush is
            # still writing them would miss them, and nothing would mark the window again
            writer.ack_after(lambda: self.windows.update(changed))

    async def write_pending_cells(self) -> None:
        """Cells a quiet stream left unwritten: a flush without rows or acks runs no hooks (the timer)."""
        if self.cells_due and time.monotonic() - self.cells_written >= CELLS_EVERY_S:
            self.write_cells()

    async def before_drain(self) -> None:
        """A revoke or a shutdown: every changed fact and cell goes into the drain's flush."""
        await self.write_changed()
        if self.cells_due:
            self.write_cells()

    async def load(self, assigned: dict[str, set[int]]) -> None:
        """A new assignment: each source partition's facts from SQL, its cells rebuilt from them; cells SQL
        holds otherwise (a config change, a crash between two flushes) are corrected in the next flush."""
        for source, partitions in assigned.items():
            kinds = SOURCES[source]
            for key in [k for k in self.states if k[0] == source and k[1] not in partitions]:
                del self.states[key]
            fresh = {p for p in partitions if (source, p) not in self.states}
            if not fresh:
                continue
            states = {p: KpiState(self.rates, self.targets.rep_team) for p in fresh}
            facts: dict[int, list] = {p: [] for p in fresh}
            for kind, key, p, fact in await load_facts(self.rt.engine, kinds, fresh):
                facts[p].append((kind, key, fact))
            for p, s in states.items():
                s.load_facts(facts.pop(p))
            stored = await stored_cells(self.rt.engine, kinds, fresh)
            for p, s in states.items():
                s.take_dirty()
                for key, counts in s.cells.items():
                    if stored.pop((key, p), None) != counts:
                        s.dirty.add(key)
                self.states[(source, p)] = s
                self.dirty.add((source, p))
            for (key, p), counts in stored.items():   # cells the facts no longer add up to
                if any(counts):
                    self.states[(source, p)].dirty.add(key)
            log.info("kpis: %s partitions %s loaded", source, sorted(fresh))

    async def publish(self, now) -> None:
        """One KpiSnapshot per changed company window, at most every PUBLISH_EVERY_S per window, read from
        the rollups of every partition (what GET /kpis answers)."""
        if self.rt.app.should_stop or not broker_connected(self.rt):
            # a snapshot queued for a broker that is gone would hold the producer's final flush at
            # shutdown; the windows stay marked and are published once it is back
            return
        due = [w for w in self.windows if time.monotonic() - self.published.get(w, 0.0) >= PUBLISH_EVERY_S]
        for g, b in due:
            rows = await read_cells(self.rt.engine, COMPANY, (g,), bucket=b)
            snaps = await asyncio.to_thread(self._snapshots, rows, g, b, now)
            for snap in snaps:
                await self.rt.send(T.KPIS, f"{g}:{b}", snap)
            self.windows.discard((g, b))
            self.published[(g, b)] = time.monotonic()

    async def month_snapshot(self, now):
        """The KPI port of the signals: now -> the company's KpiSnapshot of that month, from the rollups."""
        b = bucket("month", to_us(now))
        rows = await read_cells(self.rt.engine, COMPANY, ("month",), bucket=b)
        return (await asyncio.to_thread(self._snapshots, rows, "month", b, now))[0]

    def _snapshots(self, rows, g: str, b: int, now):
        cells = merged(rows)
        return kpi_snapshots(cells, g, now, self.targets, only=from_us(b) if g != "total" else None,
                             currency=self.rates.reporting_currency)


def register(rt, customer_context: Callable[[str], Awaitable] | None = None) -> Kpis:
    """Load config/currencies.yaml and config/targets.yaml (the worker refuses to start on a bad file),
    fold orders, funnel moves and spend into rollups, publish changed windows."""
    rates = load_rates(rt.settings.paths.resolve("currencies", "currencies.yaml"))
    targets = load_targets(rt.settings.paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
    k = Kpis(rt, rates, targets, customer_context)
    rt.writer.register(CELLS, conflict=list(CELL_KEY), update=["counts", "updated_at"])
    rt.writer.register(FACTS, conflict=["kind", "key"], update=["partition", "fact"])
    rt.on("order", k.on_order)
    rt.on("funnel", k.on_funnel)
    rt.on("campaign_spend", k.on_spend)
    rt.writer.before_flush(k.write_changed)
    rt.writer.before_drain(k.before_drain)
    names = {rt.topic_name(T.ORDERS): "orders", rt.topic_name(T.FUNNEL): "funnel",
             rt.topic_name(T.CAMPAIGN_SPEND): "spend"}

    async def _load(assigned) -> None:
        parts: dict[str, set[int]] = {source: set() for source in SOURCES}
        for tp in assigned:
            if tp.topic in names:
                parts[names[tp.topic]].add(tp.partition)
        await k.load(parts)

    rt.on_assigned(_load)

    @rt.app.timer(interval=1.0)
    async def _publish() -> None:
        await k.write_pending_cells()
        try:
            await k.publish(now_utc())
        except Exception as exc:  # database briefly away: the windows stay marked for the next tick
            log.warning("kpi snapshots not published: %s", exc)

    return k


