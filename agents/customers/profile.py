"""Order / classified feedback / incident facts -> one CustomerProfile, updated in place; no clock, no I/O.

Every update is idempotent and commutative: the profile after a set of events does not depend on
their order or on redeliveries (follow-up bookkeeping `fu_*` aside, which records what was sent).

Money is in the reporting currency of config/currencies.yaml, as in the KPIs (agents.kpis.state): each
order event's amount is converted at the rate of its own occurred_at before it is folded (a refund at the
rate of the refund's time; a cancellation after payment refunds the order's converted amount), and the
stored form holds the converted amounts. An event no rate covers (or whose converted amount exceeds what
one event may carry) folds, in its own currency's units, into records kept apart per currency: shown as
`unconverted`, never added to spend, AOV or RFM. Line values only weigh the categories of one order, so
they stay in the event's own currency.
"""

from __future__ import annotations

import base64
import math
import sys
import uuid
from datetime import datetime

from agents.customers import packing
from agents.customers.codec import NEVER, US_PER_DAY, blob_has, event_hash, key_hash, to_units, to_us
from agents.customers.config import ScoringParams
from agents.customers.orders import EMPTY, Contribution, contribution, fold
from pipeline.currency import Rates, units
from schemas.events import MAX_AMOUNT, Channel, OrderEvent

CHANNELS = tuple(Channel)
_CHANNEL_INDEX = {c: i for i, c in enumerate(CHANNELS)}
_intern = sys.intern
MAX_CATEGORIES = 250
# One converted event amount at most what one event may carry: the packed record keeps it in 64 bits
# (a rate of up to a million would otherwise overflow it)
MAX_UNITS = to_units(MAX_AMOUNT)


class CustomerProfile:
    """Compact state of one customer; see to_dict() for the stored form."""

    __slots__ = ("customer_id", "orders", "cats", "orders_count", "net", "refunds", "first_ts", "last_ts",
                 "rep_key", "rep", "region_key", "region",
                 "fb_seen", "fb_count", "fb_neg", "complaints", "s_anchor", "s_sum", "s_w", "n_w",
                 "inc_open", "inc_closed", "fu_last", "fu_seg", "fu_churn", "fu_silent", "apart", "_bd_cat", "_bd_chan")

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.orders = b""                 # packed OrderRecords
        self.cats: tuple[str, ...] = ()   # category names referenced by index from the records
        self.orders_count = self.net = self.refunds = 0
        self.first_ts = self.last_ts = NEVER
        self.rep_key = self.region_key = b""   # (time, event) of the latest order naming a rep / region
        self.rep: str | None = None
        self.region: str | None = None
        self.fb_seen = b""                # 8-byte ids of feedback events already counted
        self.fb_count = self.fb_neg = 0
        self.complaints: dict[str, int] | None = None
        self.s_anchor = NEVER             # time-decayed sums of sentiment, anchored at the latest feedback
        self.s_sum = self.s_w = self.n_w = 0.0
        self.inc_open = self.inc_closed = b""
        self.fu_last: dict[str, int] | None = None   # follow-up reason -> last raised, epoch seconds
        self.fu_seg = -1                  # segment index when last evaluated
        self.fu_churn = False             # churn risk was above the threshold when last evaluated
        self.fu_silent = NEVER            # last order time whose silence was raised (once per silence)
        # currency -> packed OrderRecords of the events no rate covered, in that currency's units
        self.apart: dict[str, bytes] | None = None
        # spend by category / channel, name -> [net units, contributing orders]: built by the first
        # spend_breakdown(), then kept up to date per order change (not stored)
        self._bd_cat: dict[str, list[int]] | None = None
        self._bd_chan: dict[str, list[int]] | None = None

    # ---- derived -------------------------------------------------------------------------------
    def rfm_key(self) -> tuple[int, int, int] | None:
        """(last order time, orders, net spend) as the RFM population sees it; None without orders."""
        return (self.last_ts, self.orders_count, self.net) if self.orders_count else None

    def mean_gap_days(self) -> float | None:
        if self.orders_count < 2:
            return None
        return (self.last_ts - self.first_ts) / (self.orders_count - 1) / US_PER_DAY

    def rolling_sentiment(self) -> float | None:
        return self.s_sum / self.s_w if self.s_w > 0 else None

    def recent_negative(self, now: datetime, params: ScoringParams) -> float:
        """Negative feedback count decayed to `now` (half-life negative_half_life_days)."""
        if self.s_anchor == NEVER or self.n_w == 0:
            return 0.0
        age_days = max(0, to_us(now) - self.s_anchor) / US_PER_DAY
        return self.n_w * 0.5 ** (age_days / params.negative_half_life_days)

    def unconverted(self) -> dict[str, tuple[int, int, int]]:
        """Per original currency, the orders kept apart for want of a rate: (orders, net units, refund units)."""
        out: dict[str, tuple[int, int, int]] = {}
        for cur, blob in sorted((self.apart or {}).items()):
            n = net = refunds = 0
            for _, rec in packing.records(blob):
                c = contribution(rec)
                if c is not None:
                    n, net, refunds = n + 1, net + c.net, refunds + c.refunds
            if n:
                out[cur] = (n, net, refunds)
        return out

    def open_incidents(self) -> int:
        return sum(1 for i in range(0, len(self.inc_open), 8)
                   if not blob_has(self.inc_closed, self.inc_open[i:i + 8]))

    def spend_breakdown(self) -> tuple[dict[str, int], dict[str, int]]:
        """Net spend units by category (allocated by line value) and by channel."""
        if self._bd_cat is None or self._bd_chan is None:
            self._bd_cat, self._bd_chan = {}, {}
            for _, rec in packing.records(self.orders):
                c = contribution(rec)
                if c is not None:
                    self._breakdown_add(c, 1)
        return ({k: v[0] for k, v in self._bd_cat.items()}, {k: v[0] for k, v in self._bd_chan.items()})

    def _breakdown_add(self, c: Contribution, sign: int) -> None:
        assert self._bd_cat is not None and self._bd_chan is not None
        channel, cats = c.attrs
        _bump(self._bd_chan, CHANNELS[channel].value, sign * c.net, sign)
        total = sum(u for _, u in cats)
        if total:
            for idx, share in cats:
                _bump(self._bd_cat, self.cats[idx], sign * (c.net * share // total), sign)

    def _recount(self) -> None:
        n = net = refunds = 0
        first, last = NEVER, -NEVER
        for _, rec in packing.records(self.orders):
            c = contribution(rec)
            if c is not None:
                n += 1
                net += c.net
                refunds += c.refunds
                first = min(first, c.at)
                last = max(last, c.at)
        self.orders_count, self.net, self.refunds = n, net, refunds
        self.first_ts, self.last_ts = (first, last) if n else (NEVER, NEVER)
        self._bd_cat = self._bd_chan = None

    def _replace_contribution(self, old: Contribution | None, new: Contribution | None) -> None:
        """Totals after one order's contribution changed, without decoding every order: O(1), unless
        the order held the first or last payment time and moves away from it (then a recount)."""
        if old is not None and old.at in (self.first_ts, self.last_ts) and (new is None or new.at != old.at):
            self._recount()
            return
        if old is not None:
            self.orders_count -= 1
            self.net -= old.net
            self.refunds -= old.refunds
            if self._bd_cat is not None:
                self._breakdown_add(old, -1)
        if new is not None:
            if self.orders_count == 0:
                self.first_ts = self.last_ts = new.at
            else:
                self.first_ts, self.last_ts = min(self.first_ts, new.at), max(self.last_ts, new.at)
            self.orders_count += 1
            self.net += new.net
            self.refunds += new.refunds
            if self._bd_cat is not None:
                self._breakdown_add(new, 1)
        if self.orders_count == 0:
            self.first_ts = self.last_ts = NEVER

    def _cat_index(self, name: str) -> int:
        try:
            return self.cats.index(name)
        except ValueError:
            if len(self.cats) >= MAX_CATEGORIES:
                name = "other"
                if name in self.cats:
                    return self.cats.index(name)
            self.cats = self.cats + (_intern(name),)
            return len(self.cats) - 1

    # ---- stored form ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Compact JSON-able dict; derived totals are recomputed on load."""
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        d: dict = {"id": self.customer_id, "v": 1}
        if self.orders:
            d.update(o=b64(self.orders), k=list(self.cats))
        if self.rep is not None:
            d.update(rep=self.rep, rk=b64(self.rep_key))
        if self.region is not None:
            d.update(reg=self.region, gk=b64(self.region_key))
        if self.fb_count:
            d.update(fs=b64(self.fb_seen), fn=self.fb_count, fneg=self.fb_neg, sa=self.s_anchor,
                     ss=self.s_sum, sw=self.s_w, nw=self.n_w)
            if self.complaints:
                d["cp"] = dict(self.complaints)
        if self.inc_open or self.inc_closed:
            d.update(io=b64(self.inc_open), ic=b64(self.inc_closed))
        if self.fu_last or self.fu_seg != -1 or self.fu_churn:
            d.update(fu=dict(self.fu_last or {}), fs_seg=self.fu_seg, fc=self.fu_churn)
        if self.fu_silent != NEVER:
            d["fsl"] = self.fu_silent
        if self.apart:
            d["ua"] = {cur: b64(blob) for cur, blob in self.apart.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CustomerProfile":
        unb = base64.b64decode
        p = cls(d["id"])
        p.orders, p.cats = unb(d.get("o", "")), tuple(_intern(c) for c in d.get("k", ()))
        p.rep, p.rep_key = d.get("rep"), unb(d.get("rk", ""))
        p.region, p.region_key = d.get("reg"), unb(d.get("gk", ""))
        if p.rep is not None:
            p.rep = _intern(p.rep)
        if p.region is not None:
            p.region = _intern(p.region)
        p.fb_seen, p.fb_count, p.fb_neg = unb(d.get("fs", "")), d.get("fn", 0), d.get("fneg", 0)
        p.s_anchor, p.s_sum, p.s_w, p.n_w = d.get("sa", NEVER), d.get("ss", 0.0), d.get("sw", 0.0), d.get("nw", 0.0)
        cp = d.get("cp")
        p.complaints = {_intern(k): v for k, v in cp.items()} if cp else None
        p.inc_open, p.inc_closed = unb(d.get("io", "")), unb(d.get("ic", ""))
        p.fu_last = dict(d["fu"]) if d.get("fu") else None
        p.fu_seg, p.fu_churn = d.get("fs_seg", -1), d.get("fc", False)
        p.fu_silent = d.get("fsl", NEVER)
        ua = d.get("ua")
        p.apart = {_intern(cur): unb(blob) for cur, blob in ua.items()} if ua else None
        p._recount()
        return p


def _bump(d: dict[str, list[int]], key: str, units: int, n: int) -> None:
    entry = d.get(key)
    if entry is None:
        d[key] = [units, n]
    elif entry[1] + n == 0:
        del d[key]
    else:
        entry[0] += units
        entry[1] += n


def _later(key: bytes, ts: int, ev: bytes) -> bytes | None:
    new = (ts + 2**63).to_bytes(8, "big") + ev
    return new if new > key else None


def apply_order(p: CustomerProfile, e: OrderEvent, rates: Rates) -> bool:
    """Fold one order event into the profile, its amount converted at its own time's rate; True when the
    profile changed (its order totals, or what is kept apart for want of a rate)."""
    ts, ev = to_us(e.occurred_at), event_hash(e.event_id)
    if e.sales_rep_id is not None and (k := _later(p.rep_key, ts, ev)) is not None:
        p.rep_key, p.rep = k, _intern(e.sales_rep_id)
    if e.region is not None and (k := _later(p.region_key, ts, ev)) is not None:
        p.region_key, p.region = k, _intern(e.region)
    converted = rates.convert(e.amount, e.currency, e.occurred_at)
    amount = units(converted) if converted is not None else None
    apart = amount is None or amount > MAX_UNITS
    blob = (p.apart or {}).get(e.currency, b"") if apart else p.orders
    oid = key_hash(e.order_id)
    start, end, rec = packing.find(blob, oid)
    lines: dict[int, int] = {}
    for item in e.items:
        i = p._cat_index(item.category)
        lines[i] = lines.get(i, 0) + item.quantity * to_units(item.unit_price)
    attrs = (_CHANNEL_INDEX[e.channel], tuple(sorted(lines.items())))
    old = rec if rec is not None else EMPTY
    new = fold(old, e.status, ts, ev, to_units(e.amount) if apart else amount, attrs)
    if new is old:
        return False
    blob = blob[:start] + packing.pack(oid, new) + blob[end:]
    if apart:
        if p.apart is None:
            p.apart = {}
        p.apart[_intern(e.currency)] = blob
        return True
    p.orders = blob
    before, after = contribution(old), contribution(new)
    if before != after:
        p._replace_contribution(before, after)
    return True


def apply_feedback(p: CustomerProfile, event_id: uuid.UUID, occurred_at: datetime, sentiment_score: float,
                   negative: bool, category: str, params: ScoringParams) -> bool:
    """Fold one classified feedback (score in [-1, 1]); False for a redelivery."""
    ev = event_hash(event_id)
    if blob_has(p.fb_seen, ev):
        return False
    p.fb_seen += ev
    p.fb_count += 1
    ts = to_us(occurred_at)
    s_rate = math.log(2) / (params.sentiment_half_life_days * US_PER_DAY)
    n_rate = math.log(2) / (params.negative_half_life_days * US_PER_DAY)
    if p.s_anchor == NEVER:
        p.s_anchor = ts
    if ts > p.s_anchor:              # move the anchor forward: decay what is there
        dt = ts - p.s_anchor
        p.s_sum *= math.exp(-s_rate * dt)
        p.s_w *= math.exp(-s_rate * dt)
        p.n_w *= math.exp(-n_rate * dt)
        p.s_anchor = ts
    age = p.s_anchor - ts
    w = math.exp(-s_rate * age)
    p.s_sum += w * sentiment_score
    p.s_w += w
    if negative:
        p.fb_neg += 1
        p.n_w += math.exp(-n_rate * age)
        cat = _intern(category)
        if p.complaints is None:
            p.complaints = {}
        p.complaints[cat] = p.complaints.get(cat, 0) + 1
    return True


def open_incident(p: CustomerProfile, incident_key: str) -> bool:
    h = key_hash(incident_key)
    if blob_has(p.inc_open, h):
        return False
    p.inc_open += h
    return True


def resolve_incident(p: CustomerProfile, incident_key: str) -> bool:
    """Mark an incident resolved (also when its opening has not arrived yet)."""
    h = key_hash(incident_key)
    if blob_has(p.inc_closed, h):
        return False
    p.inc_closed += h
    return True
