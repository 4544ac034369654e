"""Order / funnel / campaign-spend events + Rates -> KpiState: deduplicated facts plus the KPI cells they add up to.

Orders fold exactly as in customer profiles (agents.customers.orders), so the KPIs and the profiles agree.
An order lands in the windows of its payment time; its later refunds reduce the revenue of those windows
(cohort view), so a window's numbers never depend on when a refund arrived. Each fact's change moves its
old contribution out of the cells and its new one in, so the cells are the same whatever the order and
number of deliveries (tests/unit/kpis/test_kpi_properties.py), and cells of several partitions add up.

Every amount enters the fold already converted into the reporting currency at the rate of its own
occurred_at (a refund at the rate of the refund's time; a cancellation after payment refunds the order's
converted amount). An event no rate covers folds, in its own currency's units, into a record of its own
per (order, currency): counted and shown apart, never added to the converted figures.

An order with line items also counts in each of its product categories, with the order's amounts split
in proportion to the categories' line totals (the split always adds up to the order's amount).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

from agents.customers.codec import event_hash, to_units, to_us
from agents.customers.orders import EMPTY, Contribution, OrderRecord, contribution, fold
from agents.kpis.cells import (APART, APART_SPEND, COMPANY, F_HIST, F_LOST, F_WON, F_WON_US, FUNNEL, FUNNEL_WIDTH,
                               ORDER_WIDTH, ORDERS, PORTRAIT, SPEND, STAGE_INDEX, STAGES, CellKey, Cells, bump,
                               duration_bin)
from agents.kpis.windows import GRANULARITIES, bucket, buckets, following, previous
from pipeline.currency import Rates, units
from schemas.events import CampaignSpendEvent, FunnelEvent, OrderEvent

UNASSIGNED = "unassigned"
# attrs of an order / opportunity: (customer, channel, region, rep, campaign, categories)
# categories: ((category, line total units), ...) sorted; () for an opportunity or an order without items


class Portrait(NamedTuple):
    """What the customer looked like when their opportunity moved (from the customer capability)."""

    segment: str | None = None
    value_band: str | None = None


class Opp(NamedTuple):
    first_ts: int
    first_ev: bytes
    attrs: tuple
    stages: tuple          # ((stage, earliest ts), ...) sorted by stage name
    portrait: Portrait


def split(amount: int, weights: tuple) -> list[int]:
    """`amount` shared in proportion to the weights; the shares add up to `amount` exactly."""
    total = sum(w for _, w in weights)
    if total <= 0:
        base, extra = divmod(amount, len(weights))
        return [base + (1 if i < extra else 0) for i in range(len(weights))]
    shares = [amount * w // total for _, w in weights]
    shares[0] += amount - sum(shares)
    return shares


class KpiState:
    def __init__(self, rates: Rates, rep_team: dict[str, str] | None = None) -> None:
        self.rates = rates
        self.rep_team = rep_team or {}
        self.orders: dict[str, OrderRecord] = {}          # reporting units
        self.by_customer: dict[str, list[str]] = {}       # customer -> order ids (converted ones)
        self.apart: dict[tuple[str, str], OrderRecord] = {}   # (order id, currency) -> that currency's units
        self.opps: dict[str, Opp] = {}
        self.spend: dict[str, tuple] = {}   # event id -> (campaign, units, start us, currency if no rate else None)
        self.cells: Cells = {}
        self.dirty: set[CellKey] = set()              # cells changed since the last take_dirty()
        self.dirty_facts: set[tuple[str, str]] = set()   # (kind, key) of facts changed since then

    def team(self, rep: str | None) -> str | None:
        return None if rep is None else self.rep_team.get(rep, UNASSIGNED)

    def _bump(self, key: CellKey, deltas: list[int]) -> None:
        bump(self.cells, key, deltas, self.dirty)

    # ---- orders ---------------------------------------------------------------------------------
    def _dims(self, attrs: tuple) -> list[tuple[str, str]]:
        """The (dimension, value) cells an order counts in whole: all but its categories."""
        _, channel, region, rep, campaign, _ = attrs
        dims = [("all", "*"), ("channel", channel)]
        if region is not None:
            dims.append(("region", region))
        if rep is not None:
            dims.append(("rep", rep))
            dims.append(("team", self.team(rep)))
        if campaign is not None:
            dims.append(("campaign", campaign))
        return dims

    def order_cells(self, c: Contribution) -> dict[CellKey, tuple[int, int]]:
        """The cells one counted order adds to -> (gross, refunds) it adds there."""
        region, cats = c.attrs[2], c.attrs[5]
        parts = [(dim, val, c.gross, c.refunds) for dim, val in self._dims(c.attrs)]
        if cats:
            gs, rs = split(c.gross, cats), split(c.refunds, cats)
            parts.extend(("category", cat, g, r) for (cat, _), g, r in zip(cats, gs, rs))
        scopes = (COMPANY,) if region is None else (COMPANY, region)
        out = {}
        for g, b in buckets(c.at):
            for scope in scopes:
                for dim, val, gross, refunds in parts:
                    out[(ORDERS, scope, g, b, dim, val)] = (gross, refunds)
        return out

    def order_keys(self, c: Contribution) -> list[CellKey]:
        """The keys of `order_cells(c)` without their amounts (no category split): what a customer's
        other orders are counted by when one of theirs moves."""
        region, cats = c.attrs[2], c.attrs[5]
        parts = self._dims(c.attrs) + [("category", cat) for cat, _ in cats]
        scopes = (COMPANY,) if region is None else (COMPANY, region)
        return [(ORDERS, scope, g, b, dim, val) for g, b in buckets(c.at) for scope in scopes for dim, val in parts]

    def _move_order(self, oid: str, old: Contribution | None, new: Contribution | None) -> None:
        """One order's contribution moves from `old` to `new`: its cells' sums, and when the cells it is
        in change, the customer's membership of them (customers, repeat customers, retention)."""
        if old is None or new is None:  # a payment, or an order that stops counting: the common moves
            self._enter_or_leave(oid, new if old is None else old, 1 if old is None else -1)
            return
        old_k, new_k = self.order_cells(old), self.order_cells(new)
        deltas: dict[CellKey, list[int]] = {}
        for key in old_k.keys() | new_k.keys():
            og, orf = old_k.get(key, (0, 0))
            ng, nrf = new_k.get(key, (0, 0))
            d = [(key in new_k) - (key in old_k), ng - og, nrf - orf, 0, 0, 0]
            if any(d):
                deltas[key] = d
        if old_k.keys() != new_k.keys():
            self._membership(new.attrs[0], oid, old_k.keys(), new_k.keys(), deltas)
        cells, dirty = self.cells, self.dirty
        for key, d in deltas.items():
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = [0, 0, 0, 0, 0, 0]
            cell[0] += d[0]
            cell[1] += d[1]
            cell[2] += d[2]
            cell[3] += d[3]
            cell[4] += d[4]
            cell[5] += d[5]
            if not cell[0] and not any(cell):
                del cells[key]
            dirty.add(key)

    def _enter_or_leave(self, oid: str, c: Contribution, sign: int) -> None:
        """`_move_order` when one side is None: `c` enters the cells (sign 1) or leaves them (-1).
        The same cells as the general path, with what membership needs read from the customer's
        other orders once: in a cell where none of them is, the customer enters or leaves it (and
        is retained there, or in the cell after, where those hold one of theirs); where one is,
        they become or stop being a repeat customer."""
        others: Counter = Counter()
        orders = self.orders
        for other in self.by_customer.get(c.attrs[0], ()):
            if other != oid:
                oc = contribution(orders[other])
                if oc is not None:
                    others.update(self.order_keys(oc))
        cells, dirty = self.cells, self.dirty
        for key, (gross, refunds) in self.order_cells(c).items():
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = [0, 0, 0, 0, 0, 0]
            cell[0] += sign
            cell[1] += sign * gross
            cell[2] += sign * refunds
            n = others.get(key, 0)
            if n == 1:
                cell[4] += sign
            elif n == 0:
                cell[3] += sign
            if n == 0 and others:
                kind, scope, g, b, dim, val = key
                prev_b = previous(g, b)
                if prev_b is not None and (kind, scope, g, prev_b, dim, val) in others:
                    cell[5] += sign
                next_b = following(g, b)
                if next_b is not None:
                    after = (kind, scope, g, next_b, dim, val)
                    if after in others:  # a cell of another order of theirs: it exists
                        cells[after][5] += sign
                        dirty.add(after)
            if not cell[0] and not any(cell):
                del cells[key]
            dirty.add(key)

    def _membership(self, customer: str, oid: str, old_keys, new_keys, deltas: dict) -> None:
        """Add to `deltas` what the customer's move between cells changes: customers (in a cell at all),
        repeat customers (2+ orders there) and retained customers (there and in the bucket before)."""
        others: Counter = Counter()
        for other in self.by_customer.get(customer, ()):
            if other != oid:
                c = contribution(self.orders[other])
                if c is not None:
                    others.update(self.order_keys(c))
        old_keys, new_keys = set(old_keys), set(new_keys)
        changed = old_keys ^ new_keys

        def add(key: CellKey, i: int, v: int) -> None:
            d = deltas.get(key)
            if d is None:
                d = deltas[key] = [0, 0, 0, 0, 0, 0]
            d[i] += v

        for key in changed:
            n = others[key] if others else 0
            before, after = n + (key in old_keys), n + (key in new_keys)
            if (after > 0) != (before > 0):
                add(key, 3, 1 if after else -1)
            if (after >= 2) != (before >= 2):
                add(key, 4, 1 if after >= 2 else -1)
        if not others:
            return   # a customer's only order is in one bucket per window: nothing retained either way
        was, now = old_keys.union(others), new_keys.union(others)
        around = set(changed)
        for kind, scope, g, b, dim, val in changed:
            nxt = following(g, b)
            if nxt is not None:
                around.add((kind, scope, g, nxt, dim, val))
        for key in around:
            kind, scope, g, b, dim, val = key
            prev_b = previous(g, b)
            if prev_b is None:
                continue
            prev = (kind, scope, g, prev_b, dim, val)
            before = key in was and prev in was
            after = key in now and prev in now
            if before != after:
                add(key, 5, 1 if after else -1)

    def _move_apart(self, currency: str, old: Contribution | None, new: Contribution | None) -> None:
        for c, sign in ((old, -1), (new, +1)):
            if c is None:
                continue
            region = c.attrs[2]
            for scope in (COMPANY,) if region is None else (COMPANY, region):
                for g in GRANULARITIES:
                    self._bump((APART, scope, g, bucket(g, c.at), "currency", currency),
                               [sign, sign * c.gross, sign * c.refunds])

    # ---- funnel ---------------------------------------------------------------------------------
    def funnel_cells(self, o: Opp) -> dict[CellKey, list[int]]:
        _, channel, region, rep, campaign, _ = o.attrs
        stages = dict(o.stages)
        furthest = max((STAGE_INDEX[s] for s in stages if s in STAGE_INDEX), default=0)
        counts = [0] * FUNNEL_WIDTH
        for i in range(furthest + 1):
            counts[i] = 1
        if "lost" in stages and "won" not in stages:
            counts[F_LOST] = 1
        if "won" in stages:
            took = stages["won"] - o.first_ts
            counts[F_WON], counts[F_WON_US] = 1, took
            counts[F_HIST + duration_bin(took)] = 1
        dims = [("all", "*"), ("channel", channel)]
        if region is not None:
            dims.append(("region", region))
        if rep is not None:
            dims += [("rep", rep), ("team", self.team(rep))]
        if campaign is not None:
            dims.append(("campaign", campaign))
        traits = [f"channel:{channel}"]
        if region is not None:
            traits.append(f"region:{region}")
        if o.portrait.segment is not None:
            traits.append(f"segment:{o.portrait.segment}")
        if o.portrait.value_band is not None:
            traits.append(f"value_band:{o.portrait.value_band}")
        out: dict[CellKey, list[int]] = {}
        for g in GRANULARITIES:
            b = bucket(g, o.first_ts)
            for scope in (COMPANY,) if region is None else (COMPANY, region):
                for dim, val in dims:
                    out[(FUNNEL, scope, g, b, dim, val)] = counts
                for i in range(furthest + 1):
                    out[(PORTRAIT, scope, g, b, STAGES[i], "")] = dict.fromkeys(traits, 1)
        return out

    def _move_opp(self, old: Opp | None, new: Opp) -> None:
        out = self.funnel_cells(old) if old is not None else {}
        into = self.funnel_cells(new)
        for key in out.keys() | into.keys():
            a, b = out.get(key), into.get(key)
            if a is b:
                continue
            if key[0] == PORTRAIT:
                diff = dict(b or {})
                for t, n in (a or {}).items():
                    diff[t] = diff.get(t, 0) - n
                if any(diff.values()):
                    self._bump(key, diff)
            elif a is None:
                self._bump(key, b)
            elif b is None:
                self._bump(key, [-v for v in a])
            else:
                self._bump(key, [y - x for x, y in zip(a, b)])

    # ---- stored form: facts only (the cells are rebuilt from them) ------------------------------
    def fact(self, kind: str, key: str) -> Any:
        """The stored form of one fact (None: it no longer exists)."""
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        if kind == "o" or kind == "a":
            r = self.orders.get(key) if kind == "o" else self.apart.get(tuple(key.split("\x1f", 1)))
            if r is None:
                return None
            return [r.pay_ts, r.cancel_ts, r.def_rank, r.def_ts, b64(r.def_ev), r.gross, r.refunded,
                    b64(r.refund_evs), [*r.attrs[:5], [list(c) for c in r.attrs[5]]]]
        if kind == "f":
            o = self.opps.get(key)
            if o is None:
                return None
            return [o.first_ts, b64(o.first_ev), list(o.attrs[:5]), [list(s) for s in o.stages], list(o.portrait)]
        v = self.spend.get(key)
        return None if v is None else list(v)

    def load_facts(self, facts) -> None:
        """Stored facts (kind, key, fact) back into an empty state. Orders are counted in one pass per
        customer (each cell's customers, repeat and retained customers from that customer's orders at
        once), not order by order: a million orders load in seconds, not minutes."""
        unb = base64.b64decode
        for kind, key, d in facts:
            if kind != "o":
                self.load_fact(kind, key, d)
                continue
            attrs = (*d[8][:5], tuple(tuple(c) for c in d[8][5]))
            self.orders[key] = OrderRecord(d[0], d[1], d[2], d[3], unb(d[4]), d[5], d[6], unb(d[7]), attrs)
            self.by_customer.setdefault(attrs[0], []).append(key)
        cells = self.cells
        for oids in self.by_customer.values():
            member: Counter = Counter()
            for oid in oids:
                c = contribution(self.orders[oid])
                if c is None:
                    continue
                for key, (gross, refunds) in self.order_cells(c).items():
                    cell = cells.get(key)
                    if cell is None:
                        cell = cells[key] = [0] * ORDER_WIDTH
                    cell[0] += 1
                    cell[1] += gross
                    cell[2] += refunds
                    member[key] += 1
            for key, n in member.items():
                kind, scope, g, b, dim, val = key
                cell = cells[key]
                cell[3] += 1
                if n >= 2:
                    cell[4] += 1
                prev_b = previous(g, b)
                if prev_b is not None and (kind, scope, g, prev_b, dim, val) in member:
                    cell[5] += 1

    def load_fact(self, kind: str, key: str, d: list) -> None:
        """One stored fact back into the state, its cells moved as a new event's would be."""
        unb = base64.b64decode
        if kind in ("o", "a"):
            attrs = (*d[8][:5], tuple(tuple(c) for c in d[8][5]))
            rec = OrderRecord(d[0], d[1], d[2], d[3], unb(d[4]), d[5], d[6], unb(d[7]), attrs)
            if kind == "o":
                self.orders[key] = rec
                self.by_customer.setdefault(attrs[0], []).append(key)
                self._move_order(key, None, contribution(rec))
            else:
                oid, cur = key.split("\x1f", 1)
                self.apart[(oid, cur)] = rec
                self._move_apart(cur, None, contribution(rec))
        elif kind == "f":
            o = Opp(d[0], unb(d[1]), (*d[2], ()), tuple(tuple(s) for s in d[3]), Portrait(*d[4]))
            self.opps[key] = o
            self._move_opp(None, o)
        else:
            self.spend[key] = tuple(d)
            self._spend_cells(tuple(d), +1)

    def _spend_cells(self, v: tuple, sign: int) -> None:
        campaign, amount, start, apart = v
        for g in GRANULARITIES:
            b = bucket(g, start)
            if apart is None:
                self._bump((SPEND, COMPANY, g, b, "campaign", campaign), [sign * amount])
            else:
                self._bump((APART_SPEND, COMPANY, g, b, apart, campaign), [sign * amount])

    def fact_keys(self) -> list[tuple[str, str]]:
        return ([("o", k) for k in self.orders] + [("a", f"{o}\x1f{c}") for o, c in self.apart]
                + [("f", k) for k in self.opps] + [("s", k) for k in self.spend])

    def to_dict(self) -> dict:
        """Every fact in its stored form (what the rollup agent keeps per row in SQL)."""
        return {"v": 2, "facts": [[kind, key, self.fact(kind, key)] for kind, key in self.fact_keys()]}

    @classmethod
    def from_dict(cls, d: dict, rates: Rates, rep_team: dict[str, str] | None = None) -> "KpiState":
        """The stored form back, for the same `rates` it was folded with (amounts are stored converted)."""
        s = cls(rates, rep_team)
        s.load_facts(d.get("facts", []))
        s.take_dirty()
        return s

    def take_dirty(self) -> tuple[set[CellKey], set[tuple[str, str]]]:
        cells, facts = self.dirty, self.dirty_facts
        self.dirty, self.dirty_facts = set(), set()
        return cells, facts


def _categories(e: OrderEvent) -> tuple:
    weights: dict[str, int] = {}
    for i in e.items:
        weights[i.category] = weights.get(i.category, 0) + to_units(i.unit_price) * i.quantity
    return tuple(sorted(weights.items()))


def apply_order(s: KpiState, e: OrderEvent) -> bool:
    """Fold one order event, its amount converted at its own time's rate; True when any KPI cell changed."""
    attrs = (e.customer_id, e.channel.value, e.region, e.sales_rep_id, e.campaign_id, _categories(e))
    converted = s.rates.convert(e.amount, e.currency, e.occurred_at)
    ts, ev = to_us(e.occurred_at), event_hash(e.event_id)
    if converted is None:
        key = (e.order_id, e.currency)
        old = s.apart.get(key, EMPTY)
        new = fold(old, e.status, ts, ev, to_units(e.amount), attrs)
        if new is old:
            return False
        s.apart[key] = new
        s.dirty_facts.add(("a", f"{e.order_id}\x1f{e.currency}"))
        before, after = contribution(old), contribution(new)
        if before != after:
            s._move_apart(e.currency, before, after)
        return before != after
    old = s.orders.get(e.order_id, EMPTY)
    new = fold(old, e.status, ts, ev, units(converted), attrs)
    if new is old:
        return False
    if old is EMPTY:
        s.by_customer.setdefault(e.customer_id, []).append(e.order_id)
    elif new.attrs[0] != old.attrs[0]:    # an earlier event names another customer: the order moves
        s.by_customer[old.attrs[0]].remove(e.order_id)
        s.by_customer.setdefault(new.attrs[0], []).append(e.order_id)
    s.orders[e.order_id] = new
    s.dirty_facts.add(("o", e.order_id))
    before, after = contribution(old), contribution(new)
    if before != after:
        if before is not None and after is not None and before.attrs[0] != after.attrs[0]:
            s._move_order(e.order_id, before, None)
            s._move_order(e.order_id, None, after)
        else:
            s._move_order(e.order_id, before, after)
    return before != after


def apply_funnel(s: KpiState, e: FunnelEvent, portrait: Portrait = Portrait()) -> bool:
    """An opportunity keeps its earliest event's attributes and the earliest time it entered each stage;
    `portrait` is the customer as known when this event arrived (kept when it adds nothing new)."""
    ts, ev = to_us(e.occurred_at), event_hash(e.event_id)
    attrs = (e.customer_id, e.channel.value, e.region, e.sales_rep_id, e.campaign_id, ())
    old = s.opps.get(e.opportunity_id)
    if old is None:
        new = Opp(ts, ev, attrs, ((e.stage.value, ts),), portrait)
    else:
        first_ts, first_ev, a = old.first_ts, old.first_ev, old.attrs
        if (ts, ev) < (first_ts, first_ev):
            first_ts, first_ev, a = ts, ev, attrs
        stages = dict(old.stages)
        if ts < stages.get(e.stage.value, 2**63):
            stages[e.stage.value] = ts
        merged = Portrait(old.portrait.segment if portrait.segment is None else portrait.segment,
                          old.portrait.value_band if portrait.value_band is None else portrait.value_band)
        new = Opp(first_ts, first_ev, a, tuple(sorted(stages.items())), merged)
        if new == old:
            return False
    s.opps[e.opportunity_id] = new
    s.dirty_facts.add(("f", e.opportunity_id))
    s._move_opp(old, new)
    return True


def apply_spend(s: KpiState, e: CampaignSpendEvent) -> bool:
    key = str(e.event_id)
    if key in s.spend:
        return False
    converted = s.rates.convert(e.amount, e.currency, e.occurred_at)
    amount, apart = (to_units(e.amount), e.currency) if converted is None else (units(converted), None)
    v = (e.campaign_id, amount, to_us(e.period_start), apart)
    s.spend[key] = v
    s.dirty_facts.add(("s", key))
    s._spend_cells(v, +1)
    return True


Apply = Callable[[KpiState, Any], bool]
