"""SQL receivables -> the `receivables` section of GET /kpis and `salespulse kpis show`: ageing by team and region."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from agents.receivables.agent import COLUMNS, RECEIVABLES, from_row
from agents.receivables.core import ageing


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value


async def receivables_ageing(engine, now: datetime, currency: str, region: str | None = None) -> dict:
    """Open receivables (of `region`, or all) aged at `now`: per bucket a count and an amount in `currency`."""
    q = select(*(RECEIVABLES.c[c] for c in COLUMNS)).where(RECEIVABLES.c.state == "open")
    if region is not None:
        q = q.where(RECEIVABLES.c.region == region)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    return {"as_of": now.isoformat(), "currency": currency, **plain(ageing(map(from_row, rows), now))}


def ageing_section(engine, rates):
    """The section provider GET /kpis calls with the reader's region (None: every region)."""
    async def section(region: str | None, now: datetime) -> dict:
        return await receivables_ageing(engine, now, rates.reporting_currency, region)
    return section
