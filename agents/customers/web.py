"""HTTP (bearer token, scoped): GET /customers/{id}, one profile row scored against the RFM histograms of
every partition (agents/customers/rfmstats.py); its cost does not grow with the number of customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from faust import web
from sqlalchemy import case, func, literal, select, union_all

from agents.customers.codec import from_us, money
from agents.customers.profile import CustomerProfile
from agents.customers.rfm import Rfm, RfmKey, segment
from agents.customers.rfmstats import DIMENSIONS, bucket, bucket_range, position
from agents.customers.snapshot import build_snapshot
from agents.escalation.auth import in_scope
from agents.escalation.state import OPEN
from agents.escalation.web import ReadGate, Refusal, refuse
from pipeline.db.models import CustomerProfileRow, CustomerRfmStatsRow, IncidentRow

PROFILES = CustomerProfileRow.__table__
INCIDENTS = IncidentRow.__table__
STATS = CustomerRfmStatsRow.__table__
# The profile column that holds each dimension of the RFM key, and the key's value as that column holds it
KEY_COLUMNS = {"r": (PROFILES.c.last_order_at, from_us), "f": (PROFILES.c.orders_count, int),
               "m": (PROFILES.c.total_spend, money)}


async def rfm_score(conn, key: RfmKey | None) -> Rfm | None:
    """`key` scored against every customer with orders: one aggregate over the histogram rows (partitions x
    buckets, however many customers), then, per dimension whose bucket a quintile boundary crosses, a
    count of that bucket's customers over the profile column's index."""
    if key is None:
        return None
    buckets = dict(zip(DIMENSIONS, (bucket(d, v) for d, v in zip(DIMENSIONS, key))))
    n = STATS.c.customers
    parts = [select(literal(d).label("d"), func.coalesce(func.sum(case((STATS.c.bucket < b, n), else_=0)), 0),
                    func.coalesce(func.sum(case((STATS.c.bucket == b, n), else_=0)), 0), func.coalesce(func.sum(n), 0))
             .where(STATS.c.dimension == d) for d, b in buckets.items()]
    sums = {d: (int(below), int(same), int(total)) for d, below, same, total in (await conn.execute(union_all(*parts))).all()}
    scores = {}
    for d, v in zip(DIMENSIONS, key):
        pos = position(sums.get(d, (0, 0, 0)))
        lo, hi = bucket_range(d, buckets[d])
        low, high = pos.bounds(single_value=hi - lo == 1)
        if low == high:
            scores[d] = low
            continue
        column, as_stored = KEY_COLUMNS[d]
        x = as_stored(v)
        less, equal = (await conn.execute(
            select(func.coalesce(func.sum(case((column < x, 1), else_=0)), 0),
                   func.coalesce(func.sum(case((column == x, 1), else_=0)), 0))
            .where(column >= as_stored(lo), column <= x))).one()
        scores[d] = pos.exact(int(less), int(equal))
    r, f, m = scores["r"], scores["f"], scores["m"]
    return Rfm(r, f, m, segment(r, f, m))


async def customer_view(engine, customer_id: str, now: datetime, params,
                        sees: Callable[[str | None, str | None], bool] = lambda region, owner: True,
                        currency: str | None = None) -> dict | None:
    """The profile scored against every customer in SQL (not one worker's share), plus open incidents;
    None when there is none or `sees(region, owner rep)` refuses it (the same answer: ids reveal nothing).
    `currency`: the reporting currency the stored amounts are in."""
    async with engine.connect() as conn:
        state = (await conn.execute(select(PROFILES.c.state).where(PROFILES.c.customer_id == customer_id))).scalar()
        if state is None:
            return None
        mine = CustomerProfile.from_dict(state)
        if not sees(mine.region, mine.rep):
            return None
        rfm = await rfm_score(conn, mine.rfm_key())
        open_incidents = (await conn.execute(
            select(func.count()).select_from(INCIDENTS)
            .where(INCIDENTS.c.customer_id == customer_id, INCIDENTS.c.status.in_(sorted(OPEN))))).scalar_one()
    snap = build_snapshot(mine, None, now, params, rfm=rfm, currency=currency)
    view = snap.model_dump(mode="json", exclude={"event_type", "schema_version"})
    view["open_incidents"] = max(view.get("open_incidents", 0), open_incidents)
    return view


def register_pages(rt, customers, gate: ReadGate) -> None:
    """GET /customers/{id} for `customers` (scoring parameters, rates), through the worker's read `gate`."""
    from pipeline.runtime import now_utc

    app = rt.app

    @app.page("/customers/{customer_id}")
    class Customer(web.View):
        async def get(self, request: web.Request, customer_id: str) -> web.Response:
            reader = gate.admit(request, "read:customers")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            directory = gate.directory
            view = await customer_view(rt.engine, customer_id, now_utc(), customers.params,
                                       lambda region, owner: in_scope(reader, region, [owner] if owner else [],
                                                                      directory),
                                       customers.rates.reporting_currency)
            if view is None:
                return self.json({"error": f"no customer {customer_id!r}"}, status=404)
            return self.json(view, headers={"Cache-Control": "no-store"})
