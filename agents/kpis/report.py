"""KPI cells (one partition's, or several merged) + granularity + now (+ targets) -> KpiSnapshots: one per
window, rows per dimension value, in the reporting currency, with the amounts no rate covered listed apart.

Ratios (average order value, conversion, ROI, repeat purchase, retention) are computed here from the cells'
additive counters, never stored, so cells from several workers combine before any ratio is taken.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import orjson

from agents.customers.codec import from_us, money, ratio_money, to_units, to_us
from agents.kpis.cells import (APART, APART_SPEND, COMPANY, F_HIST, F_LOST, F_WON, F_WON_US, FUNNEL, HIST_BINS,
                               O_CUSTOMERS, O_GROSS, O_ORDERS, O_REFUNDS, O_REPEAT, O_RETAINED, ORDERS, PORTRAIT,
                               SPEND, STAGES, Cells, bin_middle_s)
from agents.kpis.state import KpiState
from agents.kpis.targets import TargetsConfig
from agents.kpis.windows import bucket, following, previous
from schemas.customers import KpiSnapshot, stable_id

Index = dict[tuple[str, str, int], dict[tuple[str, str], list[int]]]   # (kind, granularity, bucket) -> cells


def _share(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def index(cells: Cells, scope: str = COMPANY, granularities: tuple[str, ...] | None = None) -> Index:
    out: Index = defaultdict(dict)
    for (kind, sc, g, b, dim, val), counts in cells.items():
        if sc == scope and (granularities is None or g in granularities):
            out[(kind, g, b)][(dim, val)] = counts
    return out


def _row(dim: str, val: str, c: list[int], prev: list[int] | None) -> dict:
    orders, gross, refunds, customers = c[O_ORDERS], c[O_GROSS], c[O_REFUNDS], c[O_CUSTOMERS]
    net = gross - refunds
    retention = _share(c[O_RETAINED], prev[O_CUSTOMERS]) if prev is not None and prev[O_CUSTOMERS] else None
    return dict(
        dimension=dim, value=val, orders=orders, customers=customers, gross_revenue=money(gross),
        refunds=money(refunds), revenue=money(net), average_order_value=ratio_money(net, orders) if orders else None,
        repeat_purchase_rate=_share(c[O_REPEAT], customers), retention=retention,
    )


def _median_s(hist: list[int], n: int) -> float | None:
    """The middle duration from the histogram bins: within a factor of 1.42 of the exact median."""
    if not n:
        return None
    seen, middle = 0, (n + 1) // 2
    for i in range(HIST_BINS):
        seen += hist[i]
        if seen >= middle:
            return round(bin_middle_s(i), 3)
    return None


def _funnel_row(dim: str, val: str, c: list[int]) -> dict:
    reached = {s: c[i] for i, s in enumerate(STAGES)}
    conversion = {s: _share(reached[STAGES[i + 1]], reached[s]) for i, s in enumerate(STAGES[:-1])}
    won = c[F_WON]
    return dict(
        dimension=dim, value=val, reached=reached, conversion=conversion,
        drop_off={s: round(1 - v, 4) if v is not None else None for s, v in conversion.items()},
        lost=c[F_LOST], overall_conversion=_share(reached["won"], reached["lead"]),
        mean_seconds_to_convert=round(c[F_WON_US] / won / 1e6, 3) if won else None,
        median_seconds_to_convert=_median_s(c[F_HIST:], won),
    )


def _portraits(cells: dict[tuple[str, str], dict[str, int]], funnel_all: list[int] | None) -> list[dict]:
    traits: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for (stage, _), tally in cells.items():
        for trait, n in tally.items():
            kind, _, value = trait.partition(":")
            traits[stage][kind][value] = n
    rows = []
    for i, stage in enumerate(STAGES):
        if stage not in traits or funnel_all is None or not funnel_all[i]:
            continue
        total = funnel_all[i]
        rows.append(dict(stage=stage, opportunities=total, shares={
            kind: {v: round(n / total, 4) for v, n in sorted(values.items())}
            for kind, values in sorted(traits[stage].items())}))
    return rows


def _campaigns(spend: dict[tuple[str, str], list[int]], orders: dict[tuple[str, str], list[int]]) -> list[dict]:
    ids = {val for (_, val) in spend} | {val for (dim, val) in orders if dim == "campaign"}
    rows = []
    for cid in sorted(ids):
        c = orders.get(("campaign", cid))
        rev = c[O_GROSS] - c[O_REFUNDS] if c else 0
        sp = spend.get(("campaign", cid), [0])[0]
        rows.append(dict(campaign_id=cid, spend=money(sp), attributed_revenue=money(rev),
                                orders=c[O_ORDERS] if c else 0, roi=round((rev - sp) / sp, 4) if sp else None))
    return rows


def _targets(b: int, now: datetime, cells: dict[tuple[str, str], list[int]], targets: TargetsConfig) -> list[dict]:
    start, end = b, following("month", b)
    elapsed = min(1.0, max(0.0, (to_us(now) - start) / (end - start)))
    month = from_us(b)
    rows = []
    entries = [("team", t, t) for t in targets.teams] + [("rep", r, t) for r, t in targets.rep_team.items()]
    for kind, ident, team in sorted(entries):
        target = targets.monthly(kind, ident, month.year, month.month)
        if target is None:
            continue
        c = cells.get((kind, ident))
        actual = c[O_GROSS] - c[O_REFUNDS] if c else 0
        expected = int(to_units(target) * elapsed)
        rows.append(dict(
            kind=kind, id=ident, team=team, target=target, actual=money(actual),
            attainment=round(actual / to_units(target), 4), elapsed=round(elapsed, 4),
            expected_to_date=ratio_money(expected, 1), pace=round(actual / expected, 4) if expected else None,
            on_track=actual >= expected,
        ))
    return rows


def _unconverted(apart: dict[tuple[str, str], list[int]], spend: dict[tuple[str, str], list[int]]) -> list[dict]:
    parts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])   # orders, gross, refunds, spend
    for (_, currency), (orders, gross, refunds) in apart.items():
        parts[currency][:3] = orders, gross, refunds
    for (currency, _campaign), (amount,) in spend.items():
        parts[currency][3] += amount
    return [dict(currency=cur, orders=o, gross_revenue=money(gross), refunds=money(ref),
                           revenue=money(gross - ref), spend=money(sp))
            for cur, (o, gross, ref, sp) in sorted(parts.items())]


def buckets(idx: Index, g: str) -> list[int]:
    return sorted({b for (_, gg, b) in idx if gg == g})


def snapshot_dicts(idx: Index, granularity: str, now: datetime, targets: TargetsConfig | None, currency: str | None,
                   scope: str = COMPANY, only: datetime | None = None) -> list[dict]:
    """The windows of one granularity as plain dicts of KpiSnapshot's fields (without the event envelope):
    what GET /kpis serialises directly, and what kpi_snapshots validates into models."""
    g = granularity
    starts = [bucket(g, to_us(only))] if only is not None else buckets(idx, g)
    out = []
    for b in starts:
        orders = idx.get((ORDERS, g, b), {})
        prev_b = previous(g, b)
        prev = idx.get((ORDERS, g, prev_b), {}) if prev_b is not None else {}
        funnel = idx.get((FUNNEL, g, b), {})
        spend = idx.get((SPEND, g, b), {})
        out.append(dict(
            granularity=g, bucket_start=from_us(b) if g != "total" else None, currency=currency,
            rows=[_row(dim, val, c, prev.get((dim, val))) for (dim, val), c in sorted(orders.items())],
            funnel=[_funnel_row(dim, val, c) for (dim, val), c in sorted(funnel.items())],
            campaigns=_campaigns(spend, orders) if scope == COMPANY else [],
            targets=_targets(b, now, orders, targets) if targets and g == "month" else [],
            unconverted=_unconverted(idx.get((APART, g, b), {}), idx.get((APART_SPEND, g, b), {})),
            portraits=_portraits(idx.get((PORTRAIT, g, b), {}), funnel.get(("all", "*"))),
        ))
    return out


def dumps(obj) -> bytes:
    """Snapshot dicts -> JSON as KpiSnapshot.model_dump_json writes them (money as strings, UTC as Z)."""
    return orjson.dumps(obj, default=str, option=orjson.OPT_UTC_Z)


def kpi_snapshots(source: KpiState | Cells, granularity: str, now: datetime, targets: TargetsConfig | None = None,
                  only: datetime | None = None, *, currency: str | None = None, scope: str = COMPANY,
                  idx: Index | None = None) -> list[KpiSnapshot]:
    """Every window of the granularity that has data (or just the one starting at `only`), for the
    company (scope "*") or one region. `idx`: the cells already indexed for this scope."""
    if isinstance(source, KpiState):
        currency = currency or source.rates.reporting_currency
        source = source.cells
    idx = idx if idx is not None else index(source, scope, (granularity,))
    out = []
    for d in snapshot_dicts(idx, granularity, now, targets, currency, scope, only):
        b = to_us(d["bucket_start"]) if d["bucket_start"] is not None else 0
        envelope = {"event_type": "kpi_snapshot", "event_id": stable_id("kpis", granularity, b, now.isoformat()),
                    "occurred_at": now}
        out.append(KpiSnapshot.model_validate_json(dumps({**envelope, **d})))
    return out
