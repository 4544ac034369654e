"""Stored order events + incentive plans + targets -> the scorecard's ports: `incentive_of(rep, period)` (the
statement JSON `salespulse incentives statement` prints) and `revenue_of(kind, id, period)` (payments net of
clawbacks, the revenue that statement counts), so a scorecard and a statement never disagree."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

from agents.performance.incentives import IncentivesConfig, Placement, Statement, events_window, place, statement
from agents.performance.ledger import orders_from_db
from agents.performance.period import Period
from agents.performance.targets import kpi_team_ids


class Earnings:
    """One scorecard request asks for every rep's and team's figures of one period: the order events of a window
    are read once and kept for `ttl` seconds, and each rep's statement is computed once from them (a card asks
    for its rep's revenue and statement, a team card for every member's revenue)."""

    def __init__(self, engine, plans: IncentivesConfig, targets, directory, rates, ttl: float = 5.0) -> None:
        self.engine, self.plans, self.targets, self.directory, self.rates = engine, plans, targets, directory, rates
        self.ttl = ttl
        self._cache: dict[tuple[datetime, datetime], tuple[float, list]] = {}
        self._statements: dict[tuple[str, str], tuple[list, Statement]] = {}   # (rep, period) -> (orders, it)

    async def _orders(self, start: datetime, end: datetime) -> list:
        hit = self._cache.get((start, end))
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        orders = await orders_from_db(self.engine, start, end)
        self._cache = {k: v for k, v in self._cache.items() if time.monotonic() - v[0] < self.ttl}
        self._cache[(start, end)] = (time.monotonic(), orders)
        live = {id(v[1]) for v in self._cache.values()}
        self._statements = {k: v for k, v in self._statements.items() if id(v[0]) in live}
        return orders

    def _placed(self, rep: str, period: Period) -> Placement | None:
        return place(self.plans, self.targets, self.directory, rep, period)

    async def _statement(self, rep: str, placed: Placement, period: Period):
        orders = await self._orders(*events_window(placed.plan, period))
        hit = self._statements.get((rep, period.text))
        if hit is not None and hit[0] is orders:
            return hit[1]
        done = statement(placed.plan, orders, rep, period.text, placed.target, self.rates, placed.team_reps, placed.team_target)
        self._statements[(rep, period.text)] = (orders, done)
        return done

    async def incentive_of(self, rep: str, period: Period) -> dict | None:
        placed = self._placed(rep, period)
        return None if placed is None else (await self._statement(rep, placed, period)).to_dict()

    async def revenue_of(self, kind: str, ident: str, period: Period) -> Decimal | None:
        """A rep's revenue by their plan's clawback rule; a team's, the sum of its reps' (config/targets.yaml);
        None where no plan applies (the scorecard then takes the KPI cells' revenue)."""
        if kind == "rep":
            placed = self._placed(ident, period)
            return None if placed is None else (await self._statement(ident, placed, period)).revenue
        names = set(kpi_team_ids(ident))
        reps = sorted(r for r, t in self.targets.rep_team.items() if t in names)
        parts = [await self.revenue_of("rep", r, period) for r in reps]
        return None if not parts or any(x is None for x in parts) else sum(parts, Decimal(0))



def configured(engine, paths, directory, rates, targets=None) -> Earnings:
    """Earnings from the settings' config/incentives.yaml and config/targets.yaml (checked: ConfigError)."""
    from agents.kpis.targets import load_targets
    from agents.performance.incentives import load_plans

    plans = load_plans(paths.resolve("incentives", "incentives.yaml"), reporting_currency=rates.reporting_currency,
                       directory=directory)
    if targets is None:
        targets = load_targets(paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
    return Earnings(engine, plans, targets, directory, rates)
