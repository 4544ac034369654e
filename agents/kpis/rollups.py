"""KPI cells <-> the kpi_cells / kpi_facts tables: rows to write for changed cells and facts, and the
merged cells of every partition for a read (one indexed query, as many rows as cells, not events)."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from sqlalchemy import select

from agents.kpis.cells import PORTRAIT, WIDTH, CellKey, Cells, merge
from agents.kpis.state import KpiState
from pipeline.db.models import KpiCellRow, KpiFactRow

CELLS = KpiCellRow.__table__
FACTS = KpiFactRow.__table__
CELL_KEY = ("kind", "scope", "granularity", "bucket", "dimension", "value", "partition")


def cell_row(key: CellKey, counts: list[int] | None, partition: int, at_us: int) -> dict:
    """A cell that no longer exists is written as zeros (reads skip them): the writer only upserts.
    `at_us`: the flush time, by which readers fetch only what changed (agents.kpis.view)."""
    kind, scope, g, b, dim, val = key
    return {"kind": kind, "scope": scope, "granularity": g, "bucket": b, "dimension": dim, "value": val,
            "partition": partition, "updated_at": at_us,
            "counts": orjson.dumps(counts or ({} if kind == PORTRAIT else [0] * WIDTH[kind])).decode()}


def changed_rows(state: KpiState, partition: int, at_us: int) -> tuple[list[dict], list[dict]]:
    """The cell rows and fact rows a state changed since the last call."""
    return changed_cell_rows(state, partition, at_us), changed_fact_rows(state, partition)


def changed_cell_rows(state: KpiState, partition: int, at_us: int) -> list[dict]:
    """The rows of the cells changed since the last call."""
    cells = state.dirty
    state.dirty = set()
    return [cell_row(k, state.cells.get(k), partition, at_us) for k in cells]


def changed_fact_rows(state: KpiState, partition: int) -> list[dict]:
    """The rows of the facts changed since the last call."""
    facts = state.dirty_facts
    state.dirty_facts = set()
    rows = []
    for kind, key in facts:
        fact = state.fact(kind, key)
        rows.append({"kind": kind, "key": key, "partition": partition,
                     "fact": None if fact is None else orjson.dumps(fact).decode()})
    return rows


async def load_facts(engine, kinds: Iterable[str], partitions: Iterable[int]) -> list[tuple[str, str, int, list]]:
    kinds, partitions = sorted(kinds), sorted(partitions)
    if not partitions:
        return []
    async with engine.connect() as conn:
        rows = (await conn.execute(select(FACTS.c.kind, FACTS.c.key, FACTS.c.partition, FACTS.c.fact)
                                   .where(FACTS.c.kind.in_(kinds), FACTS.c.partition.in_(partitions),
                                          FACTS.c.fact.is_not(None)))).all()
    return [(k, key, p, orjson.loads(f)) for k, key, p, f in rows]


async def stored_cells(engine, kinds: Iterable[str], partitions: Iterable[int]) -> dict[tuple[CellKey, int], list[int]]:
    """The cells as SQL holds them for these partitions (to write what a reload finds different)."""
    partitions = sorted(partitions)
    if not partitions:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*(CELLS.c[c] for c in CELL_KEY), CELLS.c.counts)
                                   .where(CELLS.c.kind.in_(sorted(kinds)), CELLS.c.partition.in_(partitions)))).all()
    return {(tuple(r[:6]), r[6]): orjson.loads(r[7]) for r in rows}


async def read_cells(engine, scope: str, granularities: Iterable[str], bucket: int | None = None) -> list[tuple]:
    """Raw rows (every partition) of one scope's windows; `merged` sums them (CPU work: off the loop)."""
    q = (select(*(CELLS.c[c] for c in CELL_KEY[:6]), CELLS.c.counts)
         .where(CELLS.c.scope == scope, CELLS.c.granularity.in_(sorted(granularities))))
    if bucket is not None:
        q = q.where(CELLS.c.bucket == bucket)
    async with engine.connect() as conn:
        return (await conn.execute(q)).all()


def merged(rows: list[tuple]) -> Cells:
    return merge((tuple(r[:6]), orjson.loads(r[6])) for r in rows)
