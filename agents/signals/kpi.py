"""The KPI port: now -> the company's KpiSnapshot of the calendar month containing now (targets with pace, campaigns with ROI)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from agents.kpis import KpiState, TargetsConfig, apply_funnel, apply_order, apply_spend, kpi_snapshots
from schemas.customers import KpiSnapshot
from schemas.events import CampaignSpendEvent, EventBase, FunnelEvent, OrderEvent


class KpiFigures(Protocol):
    async def month(self, now: datetime) -> KpiSnapshot | None:
        """The month's figures as of `now`; None when they cannot be had (the signals wait for the next tick)."""


class OfflineFigures:
    """For replay and tests: an in-memory KpiState fed the same order, funnel and spend events."""

    def __init__(self, state: KpiState, targets: TargetsConfig | None) -> None:
        self.state, self.targets = state, targets

    def add(self, e: EventBase) -> None:
        if isinstance(e, OrderEvent):
            apply_order(self.state, e)
        elif isinstance(e, FunnelEvent):
            apply_funnel(self.state, e)
        elif isinstance(e, CampaignSpendEvent):
            apply_spend(self.state, e)

    def month_now(self, now: datetime) -> KpiSnapshot:
        return kpi_snapshots(self.state, "month", now, self.targets, only=now)[0]

    async def month(self, now: datetime) -> KpiSnapshot | None:
        return self.month_now(now)


class SnapshotFigures:
    """For the worker: whatever the composition root reads the month's KPIs with (one async callable)."""

    def __init__(self, month_snapshot: Callable[[datetime], Awaitable[KpiSnapshot | None]]) -> None:
        self._read = month_snapshot

    async def month(self, now: datetime) -> KpiSnapshot | None:
        return await self._read(now)
