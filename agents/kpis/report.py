"""KpiState + granularity + now (+ targets) -> KpiSnapshots: one per window, rows per dimension value, in the
reporting currency, with the amounts no rate covered listed apart per original currency."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from agents.customers.codec import from_us, money, ratio_money, to_units, to_us
from agents.kpis.state import Cell, KpiState
from agents.kpis.targets import TargetsConfig
from agents.kpis.windows import bucket, following, previous
from schemas.customers import CampaignRow, FunnelRow, KpiRow, KpiSnapshot, TargetRow, UnconvertedRow, stable_id

STAGES = ("lead", "qualified", "proposal", "negotiation", "won")
_ORDER = {s: i for i, s in enumerate(STAGES)}
UNASSIGNED = "unassigned"


def _share(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _merge(cells: list[Cell]) -> Cell:
    out = Cell()
    for c in cells:
        out.orders += c.orders
        out.gross += c.gross
        out.refunds += c.refunds
        for k, n in c.customers.items():
            out.customers[k] = out.customers.get(k, 0) + n
    return out


def _cells_of(state: KpiState, g: str, b: int | None, rep_team: dict[str, str]) -> dict[tuple[str, str], Cell]:
    """(dimension, value) -> cell for one bucket, team cells merged from their reps' cells."""
    if b is None:
        return {}
    out = {(dim, val): c for (gg, bb, dim, val), c in state.cells.items() if gg == g and bb == b}
    teams: dict[str, list[Cell]] = defaultdict(list)
    for (dim, val), c in out.items():
        if dim == "rep":
            teams[rep_team.get(val, UNASSIGNED)].append(c)
    for team, cs in teams.items():
        out[("team", team)] = _merge(cs)
    return out


def _row(dim: str, val: str, c: Cell, prev: Cell | None) -> KpiRow:
    net = c.gross - c.refunds
    retention = None
    if prev is not None and prev.customers:
        retention = _share(sum(1 for k in prev.customers if k in c.customers), len(prev.customers))
    return KpiRow(
        dimension=dim, value=val, orders=c.orders, customers=len(c.customers), gross_revenue=money(c.gross),
        refunds=money(c.refunds), revenue=money(net), average_order_value=ratio_money(net, c.orders),
        repeat_purchase_rate=_share(sum(1 for n in c.customers.values() if n >= 2), len(c.customers)),
        retention=retention,
    )


def _funnel(state: KpiState, g: str, b: int, rep_team: dict[str, str]) -> list[FunnelRow]:
    groups: dict[tuple[str, str], list[list]] = defaultdict(list)
    for o in state.opps.values():
        if bucket(g, o[0]) != b:
            continue
        _, channel, region, rep, campaign = o[2]
        groups[("all", "*")].append(o)
        groups[("channel", channel)].append(o)
        if region is not None:
            groups[("region", region)].append(o)
        if rep is not None:
            groups[("rep", rep)].append(o)
            groups[("team", rep_team.get(rep, UNASSIGNED))].append(o)
        if campaign is not None:
            groups[("campaign", campaign)].append(o)
    rows = []
    for (dim, val), opps in sorted(groups.items()):
        furthest = [max((_ORDER[s] for s in o[3] if s in _ORDER), default=0) for o in opps]
        reached = {s: sum(1 for f in furthest if f >= i) for i, s in enumerate(STAGES)}
        conversion = {s: _share(reached[STAGES[i + 1]], reached[s]) for i, s in enumerate(STAGES[:-1])}
        to_convert = [(o[3]["won"] - o[0]) / 1e6 for o in opps if "won" in o[3]]
        rows.append(FunnelRow(
            dimension=dim, value=val, reached=reached, conversion=conversion,
            drop_off={s: round(1 - v, 4) if v is not None else None for s, v in conversion.items()},
            lost=sum(1 for o in opps if "lost" in o[3] and "won" not in o[3]),
            overall_conversion=_share(reached["won"], reached["lead"]),
            mean_seconds_to_convert=round(statistics.fmean(to_convert), 3) if to_convert else None,
            median_seconds_to_convert=round(statistics.median(to_convert), 3) if to_convert else None,
        ))
    return rows


def _campaigns(state: KpiState, g: str, b: int, cells: dict[tuple[str, str], Cell]) -> list[CampaignRow]:
    spend: dict[str, int] = defaultdict(int)
    for campaign, units, start, _end, _channel, apart in state.spend.values():
        if apart is None and bucket(g, start) == b:
            spend[campaign] += units
    ids = set(spend) | {val for (dim, val) in cells if dim == "campaign"}
    rows = []
    for cid in sorted(ids):
        c = cells.get(("campaign", cid))
        rev = c.gross - c.refunds if c else 0
        sp = spend.get(cid, 0)
        rows.append(CampaignRow(campaign_id=cid, spend=money(sp), attributed_revenue=money(rev),
                                orders=c.orders if c else 0, roi=round((rev - sp) / sp, 4) if sp else None))
    return rows


def _targets(b: int, now: datetime, cells: dict[tuple[str, str], Cell], targets: TargetsConfig) -> list[TargetRow]:
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
        actual = c.gross - c.refunds if c else 0
        expected = int(to_units(target) * elapsed)
        rows.append(TargetRow(
            kind=kind, id=ident, team=team, target=target, actual=money(actual),
            attainment=round(actual / to_units(target), 4), elapsed=round(elapsed, 4),
            expected_to_date=ratio_money(expected, 1), pace=round(actual / expected, 4) if expected else None,
            on_track=actual >= expected,
        ))
    return rows


def _unconverted(state: KpiState, g: str, b: int) -> list[UnconvertedRow]:
    parts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])   # orders, gross, refunds, spend
    for (gg, bb, currency), (orders, gross, refunds) in state.apart_cells.items():
        if gg == g and bb == b:
            parts[currency][:3] = orders, gross, refunds
    for _campaign, units, start, _end, _channel, apart in state.spend.values():
        if apart is not None and bucket(g, start) == b:
            parts[apart][3] += units
    return [UnconvertedRow(currency=cur, orders=o, gross_revenue=money(gross), refunds=money(ref),
                           revenue=money(gross - ref), spend=money(sp))
            for cur, (o, gross, ref, sp) in sorted(parts.items())]


def buckets(state: KpiState, g: str) -> list[int]:
    found = {bb for (gg, bb, _, _) in state.cells if gg == g}
    found |= {bb for (gg, bb, _) in state.apart_cells if gg == g}
    found |= {bucket(g, o[0]) for o in state.opps.values()}
    found |= {bucket(g, v[2]) for v in state.spend.values()}
    return sorted(found)


def kpi_snapshots(state: KpiState, granularity: str, now: datetime, targets: TargetsConfig | None = None,
                  only: datetime | None = None) -> list[KpiSnapshot]:
    """Every window of the granularity that has data (or just the one starting at `only`)."""
    rep_team = targets.rep_team if targets else {}
    starts = [bucket(granularity, to_us(only))] if only is not None else buckets(state, granularity)
    out = []
    for b in starts:
        cells = _cells_of(state, granularity, b, rep_team)
        prev = _cells_of(state, granularity, previous(granularity, b), rep_team)
        rows = [_row(dim, val, c, prev.get((dim, val)) if granularity != "total" else None)
                for (dim, val), c in sorted(cells.items())]
        out.append(KpiSnapshot(
            event_id=stable_id("kpis", granularity, b, now.isoformat()), occurred_at=now,
            granularity=granularity, bucket_start=from_us(b) if granularity != "total" else None,
            currency=state.rates.reporting_currency, rows=tuple(rows), funnel=tuple(_funnel(state, granularity, b, rep_team)),
            campaigns=tuple(_campaigns(state, granularity, b, cells)),
            targets=tuple(_targets(b, now, cells, targets) if targets and granularity == "month" else ()),
            unconverted=tuple(_unconverted(state, granularity, b)),
        ))
    return out
