"""competitor_mentions (written with each classified message) -> mentions per competitor and compared, per window.

The KPI windows' own buckets (the current UTC hour, day and month; "total" is everything), counted in
SQL over the occurred_at index: a window's read grows with the mentions in it, not with history
(except "total"). Mentions carry no region, so only company-wide readers get them, like campaigns.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from agents.customers.codec import from_us, to_us
from agents.kpis.windows import bucket
from pipeline.db.models import CompetitorMentionRow

MENTIONS = CompetitorMentionRow.__table__


def window_start(granularity: str, now: datetime) -> datetime | None:
    """Start of the window `now` falls in; None for "total"."""
    return None if granularity == "total" else from_us(bucket(granularity, to_us(now)))


async def competitor_counts(conn, windows: tuple[str, ...], now: datetime) -> dict[str, list[dict]]:
    """window -> [{competitor, compared, mentions}], most mentioned first."""
    out: dict[str, list[dict]] = {}
    for g in windows:
        q = select(MENTIONS.c.competitor, MENTIONS.c.compared, func.count()).group_by(
            MENTIONS.c.competitor, MENTIONS.c.compared)
        start = window_start(g, now)
        if start is not None:
            q = q.where(MENTIONS.c.occurred_at >= start, MENTIONS.c.occurred_at <= now)
        rows = (await conn.execute(q)).all()
        out[g] = [{"competitor": c, "compared": k, "mentions": n}
                  for c, k, n in sorted(rows, key=lambda r: (-r[2], r[0], r[1]))]
    return out
