"""kpi_cells rows changed since the last read -> one scope and granularity's merged cells and window reports,
kept in memory by the worker that answers GET /kpis.

A read fetches only the rows written since the previous one (every writer stamps its rows with its flush
time; the overlap MARGIN_US absorbs clock differences between workers and transactions that committed
late), sums the partitions of the cells they touch, and rebuilds the reports of the windows those cells
belong to (and of the window after each, whose retention reads it). A read's cost follows what changed,
not how many events the rollups hold. A commit later than the margin (a database away for longer) is
caught by the full read every FULL_READ_S.
"""

from __future__ import annotations

import time
from datetime import datetime

import orjson
from sqlalchemy import select

from agents.customers.codec import from_us, to_us
from agents.kpis.cells import ORDERS, CellKey
from agents.kpis.report import Index, snapshot_dicts
from agents.kpis.rollups import CELL_KEY, CELLS
from agents.kpis.targets import TargetsConfig
from agents.kpis.windows import bucket, following

MARGIN_US = 30_000_000
FULL_READ_S = 300.0


class RollupView:
    def __init__(self, scope: str, granularity: str) -> None:
        self.scope, self.g = scope, granularity
        self.parts: dict[CellKey, dict[int, list | dict]] = {}   # cell -> partition -> counts
        self.idx: Index = {}
        self.reports: dict[int, dict] = {}          # window start -> its report (snapshot dict)
        self.stale: set[int] = set()                # windows whose report must be rebuilt
        self.since: int | None = None               # newest updated_at read (us)
        self.full_at = 0.0                          # monotonic time of the last full read

    def reset(self) -> None:
        self.__init__(self.scope, self.g)

    async def fetch(self, conn) -> list[tuple]:
        if time.monotonic() - self.full_at > FULL_READ_S:
            self.reset()
            self.full_at = time.monotonic()
        q = (select(*(CELLS.c[c] for c in CELL_KEY), CELLS.c.counts, CELLS.c.updated_at)
             .where(CELLS.c.scope == self.scope, CELLS.c.granularity == self.g))
        if self.since is not None:
            q = q.where(CELLS.c.updated_at >= self.since - MARGIN_US)
        return (await conn.execute(q)).all()

    def apply(self, rows: list[tuple]) -> None:
        """The fetched rows into the merged cells; CPU work (the first read parses every row): off the loop."""
        touched: set[CellKey] = set()
        for r in rows:
            key, partition, counts, at = tuple(r[:6]), r[6], orjson.loads(r[7]), r[8]
            by_part = self.parts.setdefault(key, {})
            if by_part.get(partition) != counts:
                by_part[partition] = counts
                touched.add(key)
            if self.since is None or at > self.since:
                self.since = at
        for key in touched:
            kind, _, g, b, dim, val = key
            total = None
            for counts in self.parts[key].values():
                if isinstance(counts, dict):
                    total = dict(total or {})
                    for t, n in counts.items():
                        total[t] = total.get(t, 0) + n
                    total = {t: n for t, n in total.items() if n}
                else:
                    total = list(counts) if total is None else [a + b for a, b in zip(total, counts)]
            cells = self.idx.setdefault((kind, g, b), {})
            if total and any(total.values() if isinstance(total, dict) else total):
                cells[(dim, val)] = total
            else:
                cells.pop((dim, val), None)
                if not cells:
                    del self.idx[(kind, g, b)]
            self.stale.add(b)
            nxt = following(g, b) if kind == ORDERS else None
            if nxt is not None:
                self.stale.add(nxt)

    def report(self, now: datetime, targets: TargetsConfig | None, currency: str) -> list[dict]:
        """Every window with data, oldest first; only stale ones (and this month's, whose targets' pace
        moves with `now`) are rebuilt. CPU work: off the loop."""
        windows = sorted({b for (_, _, b) in self.idx})
        if self.g == "month" and targets is not None:
            self.stale.add(bucket("month", to_us(now)))
        for b in self.stale:
            self.reports.pop(b, None)
        self.stale = set()
        have = set(windows)
        for b in list(self.reports):
            if b not in have:
                del self.reports[b]
        for b in windows:
            if b not in self.reports:
                only = from_us(b) if self.g != "total" else None
                self.reports[b] = snapshot_dicts(self.idx, self.g, now, targets, currency, self.scope, only)[0]
        return [self.reports[b] for b in windows]
