"""Order / funnel / campaign-spend events + Rates -> KpiState: deduplicated facts plus per-window cells kept by deltas.

Orders fold exactly as in customer profiles (agents.customers.orders), so the KPIs and the profiles agree.
An order lands in the windows of its payment time; its later refunds reduce the revenue of those windows
(cohort view), so a window's numbers never depend on when a refund arrived. Cells are derived from the
facts: the stored form holds only facts and the cells are rebuilt on load.

Every amount enters the fold already converted into the reporting currency at the rate of its own
occurred_at (a refund at the rate of the refund's time; a cancellation after payment refunds the order's
converted amount). An event no rate covers folds, in its own currency's units, into a record of its own
per (order, currency): counted and shown apart, never added to the converted figures. (An order with
events on both sides, say paid before its currency's first rate and refunded after, is folded on each
side from that side's events alone.)
"""

from __future__ import annotations

import base64
from typing import Any

from agents.customers.codec import event_hash, to_units, to_us
from agents.customers.orders import EMPTY, Contribution, OrderRecord, contribution, fold
from pipeline.currency import Rates, units
from agents.kpis.windows import GRANULARITIES, bucket
from schemas.events import CampaignSpendEvent, FunnelEvent, OrderEvent

CellKey = tuple[str, int, str, str]     # granularity, bucket start (us), dimension, value
ApartKey = tuple[str, int, str]         # granularity, bucket start (us), original currency


class Cell:
    __slots__ = ("orders", "gross", "refunds", "customers")

    def __init__(self) -> None:
        self.orders = self.gross = self.refunds = 0
        self.customers: dict[str, int] = {}


class KpiState:
    def __init__(self, rates: Rates) -> None:
        self.rates = rates
        self.orders: dict[str, OrderRecord] = {}   # attrs: (customer, channel, region, rep, campaign); reporting units
        self.cells: dict[CellKey, Cell] = {}
        # (order id, currency) -> the order's events no rate covers, folded in that currency's units
        self.apart: dict[tuple[str, str], OrderRecord] = {}
        self.apart_cells: dict[ApartKey, list[int]] = {}   # -> [orders, gross, refunds] in that currency's units
        self.opps: dict[str, list] = {}            # id -> [first_ts, first_ev, (customer, channel, region, rep, campaign), {stage: ts}]
        # event id -> (campaign, units, start_us, end_us, channel|None, currency): reporting units when
        # currency is None, else that currency's units (no rate covered it)
        self.spend: dict[str, tuple] = {}

    # ---- stored form: facts only -----------------------------------------------------------------
    def to_dict(self) -> dict:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return {
            "v": 1,
            "orders": {oid: [r.pay_ts, r.cancel_ts, r.def_rank, r.def_ts, b64(r.def_ev), r.gross, r.refunded,
                             b64(r.refund_evs), list(r.attrs)] for oid, r in self.orders.items()},
            "apart": [[oid, cur, r.pay_ts, r.cancel_ts, r.def_rank, r.def_ts, b64(r.def_ev), r.gross, r.refunded,
                       b64(r.refund_evs), list(r.attrs)] for (oid, cur), r in self.apart.items()],
            "opps": {k: [o[0], b64(o[1]), list(o[2]), dict(o[3])] for k, o in self.opps.items()},
            "spend": {k: list(v) for k, v in self.spend.items()},
        }

    @classmethod
    def from_dict(cls, d: dict, rates: Rates) -> "KpiState":
        """The stored form back, for the same `rates` it was folded with (amounts are stored converted)."""
        unb = base64.b64decode
        s = cls(rates)
        for oid, r in d.get("orders", {}).items():
            rec = OrderRecord(r[0], r[1], r[2], r[3], unb(r[4]), r[5], r[6], unb(r[7]), tuple(r[8]))
            s.orders[oid] = rec
            _move(s, None, contribution(rec))
        for oid, cur, *r in d.get("apart", []):
            rec = OrderRecord(r[0], r[1], r[2], r[3], unb(r[4]), r[5], r[6], unb(r[7]), tuple(r[8]))
            s.apart[(oid, cur)] = rec
            _move_apart(s, cur, None, contribution(rec))
        pad = (None,) * 5
        s.opps = {k: [o[0], unb(o[1]), (tuple(o[2]) + pad)[:5], dict(o[3])] for k, o in d.get("opps", {}).items()}
        s.spend = {k: (tuple(v) + (None,))[:6] for k, v in d.get("spend", {}).items()}
        return s


def _dims(attrs: Any) -> list[tuple[str, str]]:
    _, channel, region, rep, campaign = attrs
    dims = [("all", "*"), ("channel", channel)]
    if region is not None:
        dims.append(("region", region))
    if rep is not None:
        dims.append(("rep", rep))
    if campaign is not None:
        dims.append(("campaign", campaign))
    return dims


def _add(cells: dict[CellKey, Cell], c: Contribution, sign: int) -> None:
    customer = c.attrs[0]
    dims = _dims(c.attrs)
    for g in GRANULARITIES:
        b = bucket(g, c.at)
        for dim, value in dims:
            key = (g, b, dim, value)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            cell.orders += sign
            cell.gross += sign * c.gross
            cell.refunds += sign * c.refunds
            n = cell.customers.get(customer, 0) + sign
            if n:
                cell.customers[customer] = n
            else:
                del cell.customers[customer]
            if cell.orders == 0:          # keep the cells canonical: empty cells do not exist
                del cells[key]


def _move(s: KpiState, old: Contribution | None, new: Contribution | None) -> None:
    if old == new:
        return
    if old is not None:
        _add(s.cells, old, -1)
    if new is not None:
        _add(s.cells, new, +1)


def _move_apart(s: KpiState, currency: str, old: Contribution | None, new: Contribution | None) -> None:
    if old == new:
        return
    for c, sign in ((old, -1), (new, +1)):
        if c is None:
            continue
        for g in GRANULARITIES:
            key = (g, bucket(g, c.at), currency)
            cell = s.apart_cells.setdefault(key, [0, 0, 0])
            cell[0] += sign
            cell[1] += sign * c.gross
            cell[2] += sign * c.refunds
            if cell[0] == 0:
                del s.apart_cells[key]


def apply_order(s: KpiState, e: OrderEvent) -> bool:
    """Fold one order event, its amount converted at its own time's rate; True when any KPI cell changed."""
    attrs = (e.customer_id, e.channel.value, e.region, e.sales_rep_id, e.campaign_id)
    converted = s.rates.convert(e.amount, e.currency, e.occurred_at)
    key: tuple[str, str] | str
    if converted is None:
        book, key, amount = s.apart, (e.order_id, e.currency), to_units(e.amount)
    else:
        book, key, amount = s.orders, e.order_id, units(converted)
    old = book.get(key, EMPTY)
    new = fold(old, e.status, to_us(e.occurred_at), event_hash(e.event_id), amount, attrs)
    if new is old:
        return False
    book[key] = new
    before, after = contribution(old), contribution(new)
    if converted is None:
        _move_apart(s, e.currency, before, after)
    else:
        _move(s, before, after)
    return before != after


def apply_funnel(s: KpiState, e: FunnelEvent) -> bool:
    """An opportunity keeps its earliest event's attributes and the earliest time it entered each stage."""
    ts, ev = to_us(e.occurred_at), event_hash(e.event_id)
    attrs = (e.customer_id, e.channel.value, e.region, e.sales_rep_id, e.campaign_id)
    o = s.opps.get(e.opportunity_id)
    if o is None:
        o = s.opps[e.opportunity_id] = [ts, ev, attrs, {}]
    elif (ts, ev) < (o[0], o[1]):
        o[0], o[1], o[2] = ts, ev, attrs
    stages = o[3]
    if ts < stages.get(e.stage.value, 2**63):
        stages[e.stage.value] = ts
        return True
    return False


def apply_spend(s: KpiState, e: CampaignSpendEvent) -> bool:
    key = str(e.event_id)
    if key in s.spend:
        return False
    converted = s.rates.convert(e.amount, e.currency, e.occurred_at)
    amount, apart = (to_units(e.amount), e.currency) if converted is None else (units(converted), None)
    s.spend[key] = (e.campaign_id, amount, to_us(e.period_start), to_us(e.period_end),
                    e.channel.value if e.channel else None, apart)
    return True
