"""HTTP: GET /customers/{id} (owning worker, else SQL) and GET /kpis (same code as `kpis replay`, over SQL events)."""

from __future__ import annotations

import time
from datetime import datetime

import orjson
from faust import web
from sqlalchemy import func, select

from agents.customers.book import CustomerBook
from agents.customers.profile import CustomerProfile
from agents.escalation.state import OPEN
from agents.kpis import KpiState, apply_funnel, apply_order, apply_spend, kpi_snapshots, load_targets
from pipeline.db.models import CustomerProfileRow, IncidentRow, ReceivedEvent
from schemas.events import INPUT_ADAPTER, CampaignSpendEvent, FunnelEvent, OrderEvent

PROFILES = CustomerProfileRow.__table__
EVENTS = ReceivedEvent.__table__
INCIDENTS = IncidentRow.__table__
WINDOWS = ("hour", "day", "month", "total")


async def customer_view(engine, customer_id: str, now: datetime, params) -> dict | None:
    """The profile scored against every customer in SQL (not one worker's share), plus open incidents."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(PROFILES.c.customer_id, PROFILES.c.state))).all()
        open_incidents = (await conn.execute(
            select(func.count()).select_from(INCIDENTS)
            .where(INCIDENTS.c.customer_id == customer_id, INCIDENTS.c.status.in_(sorted(OPEN))))).scalar_one()
    if not any(cid == customer_id for cid, _ in rows):
        return None
    book = CustomerBook(params, [CustomerProfile.from_dict(state) for _, state in rows])
    snap = book.snapshot(customer_id, now).model_dump(mode="json", exclude={"event_type", "schema_version"})
    snap["open_incidents"] = max(snap.get("open_incidents", 0), open_incidents)
    return snap


async def kpi_view(engine, now: datetime, windows: tuple[str, ...], targets) -> dict:
    state = KpiState()
    async with engine.connect() as conn:
        result = await conn.stream(select(EVENTS.c.payload)
                                   .where(EVENTS.c.event_type.in_(["order", "funnel", "campaign_spend"])))
        async for (payload,) in result:
            e = INPUT_ADAPTER.validate_json(payload)
            if isinstance(e, OrderEvent):
                apply_order(state, e)
            elif isinstance(e, FunnelEvent):
                apply_funnel(state, e)
            elif isinstance(e, CampaignSpendEvent):
                apply_spend(state, e)
    return {"as_of": now.isoformat(), "windows": {
        g: [s.model_dump(mode="json", exclude={"event_type", "schema_version", "event_id", "occurred_at"})
            for s in kpi_snapshots(state, g, now, targets)] for g in windows}}


def register_pages(rt) -> None:
    from pipeline.runtime import now_utc

    app = rt.app
    customers = rt.extras["customers"]
    targets = load_targets(rt.settings.paths.resolve("targets", "targets.yaml"))
    cache: dict[tuple, tuple[float, bytes]] = {}

    @app.page("/customers/{customer_id}")
    class Customer(web.View):
        async def get(self, request: web.Request, customer_id: str) -> web.Response:
            view = await customer_view(rt.engine, customer_id, now_utc(), customers.params)
            if view is None:
                return self.json({"error": f"no customer {customer_id!r}"}, status=404)
            return self.json(view)

    @app.page("/kpis")
    class Kpis(web.View):
        async def get(self, request: web.Request) -> web.Response:
            wanted = tuple(w for w in request.query.get("window", "month,total").split(",") if w)
            bad = [w for w in wanted if w not in WINDOWS]
            if bad or not wanted:
                return self.json({"error": f"window must be among {', '.join(WINDOWS)}"}, status=400)
            key = wanted
            hit = cache.get(key)
            if hit is None or time.monotonic() - hit[0] > 5.0:  # recomputed at most every 5 s
                hit = (time.monotonic(), orjson.dumps(await kpi_view(rt.engine, now_utc(), wanted, targets)))
                cache[key] = hit
            return self.bytes(hit[1], content_type="application/json")
