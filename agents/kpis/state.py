"""Order / funnel / campaign-spend events -> KpiState: deduplicated facts plus per-window cells kept by deltas.

Orders fold exactly as in customer profiles (agents.customers.orders), so the KPIs and the profiles agree.
An order lands in the windows of its payment time; its later refunds reduce the revenue of those windows
(cohort view), so a window's numbers never depend on when a refund arrived. Cells are derived from the
facts: the stored form holds only facts and the cells are rebuilt on load.
"""

from __future__ import annotations

import base64
from typing import Any

from agents.customers.codec import event_hash, to_units, to_us
from agents.customers.orders import EMPTY, Contribution, OrderRecord, contribution, fold
from agents.kpis.windows import GRANULARITIES, bucket
from schemas.events import CampaignSpendEvent, FunnelEvent, OrderEvent

CellKey = tuple[str, int, str, str]     # granularity, bucket start (us), dimension, value


class Cell:
    __slots__ = ("orders", "gross", "refunds", "customers")

    def __init__(self) -> None:
        self.orders = self.gross = self.refunds = 0
        self.customers: dict[str, int] = {}


class KpiState:
    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}   # attrs: (customer, channel, region, rep, campaign)
        self.cells: dict[CellKey, Cell] = {}
        self.opps: dict[str, list] = {}            # id -> [first_ts, first_ev, (customer, channel, region, rep), {stage: ts}]
        self.spend: dict[str, tuple] = {}          # event id -> (campaign, units, start_us, end_us, channel|None)

    # ---- stored form: facts only -----------------------------------------------------------------
    def to_dict(self) -> dict:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return {
            "v": 1,
            "orders": {oid: [r.pay_ts, r.cancel_ts, r.def_rank, r.def_ts, b64(r.def_ev), r.gross, r.refunded,
                             b64(r.refund_evs), list(r.attrs)] for oid, r in self.orders.items()},
            "opps": {k: [o[0], b64(o[1]), list(o[2]), dict(o[3])] for k, o in self.opps.items()},
            "spend": {k: list(v) for k, v in self.spend.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "KpiState":
        unb = base64.b64decode
        s = cls()
        for oid, r in d.get("orders", {}).items():
            rec = OrderRecord(r[0], r[1], r[2], r[3], unb(r[4]), r[5], r[6], unb(r[7]), tuple(r[8]))
            s.orders[oid] = rec
            _move(s, None, contribution(rec))
        s.opps = {k: [o[0], unb(o[1]), tuple(o[2]), dict(o[3])] for k, o in d.get("opps", {}).items()}
        s.spend = {k: tuple(v) for k, v in d.get("spend", {}).items()}
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


def apply_order(s: KpiState, e: OrderEvent) -> bool:
    """Fold one order event; True when any KPI cell changed."""
    old = s.orders.get(e.order_id, EMPTY)
    attrs = (e.customer_id, e.channel.value, e.region, e.sales_rep_id, e.campaign_id)
    new = fold(old, e.status, to_us(e.occurred_at), event_hash(e.event_id), to_units(e.amount), attrs)
    if new is old:
        return False
    s.orders[e.order_id] = new
    before, after = contribution(old), contribution(new)
    _move(s, before, after)
    return before != after


def apply_funnel(s: KpiState, e: FunnelEvent) -> bool:
    """An opportunity keeps its earliest event's attributes and the earliest time it entered each stage."""
    ts, ev = to_us(e.occurred_at), event_hash(e.event_id)
    attrs = (e.customer_id, e.channel.value, e.region, e.sales_rep_id)
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
    s.spend[key] = (e.campaign_id, to_units(e.amount), to_us(e.period_start), to_us(e.period_end),
                    e.channel.value if e.channel else None)
    return True
