"""orders, classified feedback, the month's KPIs on a timer -> incidents.raw (business signals), salespulse_signals_fired_total.

Each worker judges the feedback of the customers it owns (feedback and orders are both keyed by customer,
so a complaint's order is known where the complaint arrives). Counts live in memory and restart with a
new assignment: nothing fires until a whole baseline has been seen again (config/signals.yaml). Two
workers that see one rise raise the same incident id and key: the escalation chain merges them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select

from agents.escalation.directory import Directory
from agents.kpis.targets import load_targets
from agents.signals.config import load_signals
from agents.signals.core import SignalsCore
from agents.signals.firing import KINDS, Firing, incident
from agents.signals.kpi import KpiFigures, SnapshotFigures
from agents.signals.teams import TeamMap
from pipeline import topics as T
from pipeline.configfile import load_yaml
from pipeline.db.models import IncidentRow
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.customers import KpiSnapshot
from schemas.events import OrderEvent
from schemas.feedback import ClassifiedFeedback

log = logging.getLogger(__name__)

INCIDENTS = IncidentRow.__table__


class Signals:
    def __init__(self, rt: Runtime, core: SignalsCore, figures: KpiFigures | None, teams: TeamMap | None = None) -> None:
        self.rt, self.core, self.figures, self.teams = rt, core, figures, teams
        self.assignment: frozenset = frozenset()

    async def on_order(self, e: OrderEvent, meta: Meta) -> None:
        self.core.order(e)

    async def on_classified(self, cf: ClassifiedFeedback, meta: Meta) -> None:
        """A subscriber of the feedback capability: the incident is sent before the feedback event is acked."""
        await self.raise_all(self.core.feedback(cf))

    async def tick(self, now: datetime) -> None:
        """Target pace and campaign ROI, judged by one worker: the figures are company-wide."""
        if self.figures is None or not self._judges_company():
            return
        snap = await self.figures.month(now)
        await self.raise_all(self.core.kpis(snap, now))

    def _judges_company(self) -> bool:
        orders = self.rt.topic_name(T.ORDERS)
        return any(tp.topic == orders and tp.partition == 0 for tp in self.rt.assigned)

    async def raise_all(self, firings: list[Firing]) -> None:
        channel = self.core.cfg.company_channel
        for f in firings:
            ev = incident(f, channel, self.teams.of(f) if self.teams else None)
            self.rt.metrics.signals_fired.labels(f.kind).inc()
            log.info("signal %s on %s: incident %s", f.kind, f.subject, ev.incident_key)
            await self.rt.send(T.INCIDENTS_RAW, ev.incident_key, ev)

    async def load(self, assigned) -> None:
        """A new assignment: counts start over (see the module doc); pace and ROI incidents already raised
        this month and last are read back, so a restart or a move of partition 0 does not raise them again."""
        if frozenset(assigned) != self.assignment:
            self.assignment = frozenset(assigned)
            self.core.reset()
        async with self.rt.engine.connect() as conn:
            keys = (await conn.execute(select(INCIDENTS.c.incident_key).where(
                INCIDENTS.c.incident_key.like("signal:target_pace:%")
                | INCIDENTS.c.incident_key.like("signal:campaign_roi:%")))).scalars().all()
        self.core.remember(keys)


def register(rt: Runtime, subscribe: list, month_snapshot: Callable[[datetime], Awaitable[KpiSnapshot | None]] | None
             ) -> Signals:
    """Load config/signals.yaml (a mistake refuses to start); take orders, and classified feedback through
    `subscribe` (the feedback capability's subscribers port); judge pace and ROI every tick with
    `month_snapshot` (now -> the company's KpiSnapshot of that month, or None), the KPI port."""
    paths = rt.settings.paths
    cfg = load_signals(paths.resolve("signals", "signals.yaml"))
    teams = TeamMap(load_targets(paths.resolve("targets", "targets.yaml")),
                    load_yaml(paths.resolve("directory", "directory.yaml"), Directory))
    sig = Signals(rt, SignalsCore(cfg), SnapshotFigures(month_snapshot) if month_snapshot else None, teams)
    for kind in KINDS:
        rt.metrics.signals_fired.labels(kind)   # every kind at 0 from the start: rate() and alerts see it
    rt.on("order", sig.on_order)
    subscribe.append(sig.on_classified)
    rt.on_assigned(sig.load)

    @rt.app.timer(interval=cfg.tick_seconds)
    async def _tick() -> None:
        try:
            await sig.tick(now_utc())
        except Exception as exc:  # the figures unreadable for now (database away): the next tick tries again
            log.warning("target pace and campaign ROI not judged: %s", exc)

    return sig
