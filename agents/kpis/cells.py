"""KPI cells: the additive counters the rollups hold, their keys, and how cells of several partitions combine.

A cell is (kind, scope, granularity, bucket start in us, dimension, value) -> a list of integer counters.
Every counter is a sum over the cell's orders / opportunities / spend, or over its customers (a customer
is counted in a cell when at least one of their counted orders falls in it). Orders and funnel moves are
keyed by customer id, so a customer's orders all live in one partition: counts of customers from several
partitions add up exactly, and merging cells is an element-wise sum.

Scope "*" is the company; a region's cells repeat the company's for the orders and opportunities of
that region, so a regional reader's view is read, not recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable

CellKey = tuple[str, str, str, int, str, str]   # kind, scope, granularity, bucket, dimension, value
Cells = dict[CellKey, list[int]]

COMPANY = "*"

# kind -> counter layout
ORDERS = "o"      # orders, gross, refunds, customers, repeat customers (2+ orders), retained (also in the previous bucket)
FUNNEL = "f"      # reached lead..won (5), lost, won, seconds-to-won sum (us), then HIST_BINS duration bins
PORTRAIT = "p"    # (dimension = stage, value "") -> {"kind:value": opportunities that reached the stage} (one row
                  # per stage, not per trait: a read fetches a few rows per window)
SPEND = "s"       # campaign spend in reporting units
APART = "a"       # orders no rate covered, per currency: orders, gross, refunds (that currency's units)
APART_SPEND = "x"  # spend no rate covered, per (currency, campaign): that currency's units

O_ORDERS, O_GROSS, O_REFUNDS, O_CUSTOMERS, O_REPEAT, O_RETAINED = range(6)
ORDER_WIDTH = 6
STAGES = ("lead", "qualified", "proposal", "negotiation", "won")
STAGE_INDEX = {s: i for i, s in enumerate(STAGES)}
F_LOST, F_WON, F_WON_US = 5, 6, 7
F_HIST = 8
HIST_BINS = 40      # bin i holds durations in [2**(i-1), 2**i) seconds (bin 0: under a second)
FUNNEL_WIDTH = F_HIST + HIST_BINS
WIDTH = {ORDERS: ORDER_WIDTH, FUNNEL: FUNNEL_WIDTH, PORTRAIT: 1, SPEND: 1, APART: 3, APART_SPEND: 1}


def duration_bin(us: int) -> int:
    return min(HIST_BINS - 1, max(0, us // 1_000_000).bit_length())


def bin_middle_s(i: int) -> float:
    """A representative duration of bin i (its geometric middle; 0.5 s for the first)."""
    return 0.5 if i == 0 else (2 ** (i - 1)) * 1.4142135623730951


def bump(cells: Cells, key: CellKey, deltas: list[int] | dict[str, int], dirty: set | None = None) -> None:
    """Add `deltas` to a cell; a cell whose counters all return to zero is removed (cells stay canonical)."""
    if isinstance(deltas, dict):
        tally = cells.setdefault(key, {})
        for k, d in deltas.items():
            n = tally.get(k, 0) + d
            if n:
                tally[k] = n
            else:
                tally.pop(k, None)
        if not tally:
            del cells[key]
        if dirty is not None:
            dirty.add(key)
        return
    cell = cells.get(key)
    if cell is None:
        cell = cells[key] = [0] * WIDTH[key[0]]
    for i, d in enumerate(deltas):
        if d:
            cell[i] += d
    if not any(cell):
        del cells[key]
    if dirty is not None:
        dirty.add(key)


def merge(rows: Iterable[tuple[CellKey, list[int]]]) -> Cells:
    """Cells of several partitions -> one set (element-wise sums; all-zero cells dropped)."""
    out: Cells = {}
    for key, counts in rows:
        cell = out.get(key)
        if cell is None:
            out[key] = dict(counts) if isinstance(counts, dict) else list(counts)
        elif isinstance(cell, dict):
            for k, v in counts.items():
                cell[k] = cell.get(k, 0) + v
        else:
            out[key] = [a + b for a, b in zip(cell, counts)]
    return {k: ({t: n for t, n in v.items() if n} if isinstance(v, dict) else v)
            for k, v in out.items() if any(v.values() if isinstance(v, dict) else v)}
