"""HTTP (bearer token, scoped): GET /customers/{id} (from SQL) and GET /kpis (`kpis replay`'s code over SQL events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import orjson
from faust import web
from sqlalchemy import func, select

from agents.customers.book import CustomerBook
from agents.customers.profile import CustomerProfile
from agents.escalation.auth import Reader, in_scope
from agents.escalation.state import OPEN
from agents.escalation.web import Refusal, gate_of, refuse
from agents.kpis import KpiState, apply_funnel, apply_order, apply_spend, kpi_snapshots, load_targets
from pipeline.db.models import CustomerProfileRow, IncidentRow, ReceivedEvent
from schemas.events import INPUT_ADAPTER, CampaignSpendEvent, FunnelEvent, OrderEvent

PROFILES = CustomerProfileRow.__table__
EVENTS = ReceivedEvent.__table__
INCIDENTS = IncidentRow.__table__
WINDOWS = ("hour", "day", "month", "total")
KPI_TTL_S = 5.0  # the stored events are replayed for /kpis at most this often


async def customer_view(engine, customer_id: str, now: datetime, params,
                        sees: Callable[[str | None, str | None], bool] = lambda region, owner: True) -> dict | None:
    """The profile scored against every customer in SQL (not one worker's share), plus open incidents;
    None when there is none or `sees(region, owner rep)` refuses it (the same answer: ids reveal nothing)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(PROFILES.c.customer_id, PROFILES.c.state))).all()
        open_incidents = (await conn.execute(
            select(func.count()).select_from(INCIDENTS)
            .where(INCIDENTS.c.customer_id == customer_id, INCIDENTS.c.status.in_(sorted(OPEN))))).scalar_one()
    mine = next((CustomerProfile.from_dict(state) for cid, state in rows if cid == customer_id), None)
    if mine is None or not sees(mine.region, mine.rep):
        return None
    book = CustomerBook(params, [mine if cid == customer_id else CustomerProfile.from_dict(state)
                                 for cid, state in rows])
    snap = book.snapshot(customer_id, now).model_dump(mode="json", exclude={"event_type", "schema_version"})
    snap["open_incidents"] = max(snap.get("open_incidents", 0), open_incidents)
    return snap


def kpi_views(states: dict[str | None, KpiState], now: datetime, windows: tuple[str, ...], targets) -> dict:
    """region (None: every region) -> the GET /kpis answer over that region's orders and funnel moves."""
    def view(state: KpiState) -> dict:
        return {"as_of": now.isoformat(), "windows": {
            g: [s.model_dump(mode="json", exclude={"event_type", "schema_version", "event_id", "occurred_at"})
                for s in kpi_snapshots(state, g, now, targets)] for g in windows}}
    return {region: view(state) for region, state in states.items()}


async def kpi_states(engine, regions: bool = True) -> dict[str | None, KpiState]:
    """One replay of the stored events into the company's KPIs (key None) and each region's (campaign
    spend has no region: it counts company-wide only)."""
    states: dict[str | None, KpiState] = {None: KpiState()}
    async with engine.connect() as conn:
        result = await conn.stream(select(EVENTS.c.payload)
                                   .where(EVENTS.c.event_type.in_(["order", "funnel", "campaign_spend"])))
        async for (payload,) in result:
            e = INPUT_ADAPTER.validate_json(payload)
            if isinstance(e, CampaignSpendEvent):
                apply_spend(states[None], e)
                continue
            apply = apply_order if isinstance(e, OrderEvent) else apply_funnel if isinstance(e, FunnelEvent) else None
            if apply is None:
                continue
            apply(states[None], e)
            if regions and e.region is not None:
                apply(states.setdefault(e.region, KpiState()), e)
    return states


async def kpi_view(engine, now: datetime, windows: tuple[str, ...], targets) -> dict:
    """The company's KPIs (`salespulse kpis show`: whoever reads the database sees everything)."""
    return kpi_views(await kpi_states(engine, regions=False), now, windows, targets)[None]


def windows_key(raw: str) -> tuple[str, ...] | None:
    """`month,total,month` -> ("month", "total"): deduplicated, in WINDOWS order, so spellings share one
    cache entry (at most 15 keys); None when empty or naming an unknown window."""
    asked = {w for w in raw.split(",") if w}
    if not asked or not asked <= set(WINDOWS):
        return None
    return tuple(w for w in WINDOWS if w in asked)


def scope_kpis(view: dict, reader: Reader, directory) -> dict:
    """A regional reader's view keeps the reps and teams in their scope (the rule of auth.in_scope)
    and drops campaigns, whose spend is company-wide."""
    def rep_seen(rep: str) -> bool:
        return in_scope(reader, None, [rep], directory)

    def keep(snap: dict) -> dict:
        seen_reps = {t["id"] for t in snap["targets"] if t["kind"] == "rep" and rep_seen(t["id"])}
        seen_teams = {t["team"] for t in snap["targets"] if t["id"] in seen_reps}
        return {**snap,
                "rows": [r for r in snap["rows"] if r["dimension"] != "rep" or rep_seen(r["value"])],
                "funnel": [f for f in snap["funnel"] if f["dimension"] != "rep" or rep_seen(f["value"])],
                "campaigns": [],
                "targets": [t for t in snap["targets"] if t["id"] in seen_reps
                            or (t["kind"] == "team" and t["id"] in seen_teams)]}
    return {**view, "region": reader.region,
            "windows": {g: [keep(s) for s in snaps] for g, snaps in view["windows"].items()}}


def register_pages(rt) -> None:
    from pipeline.runtime import now_utc

    app = rt.app
    customers = rt.extras["customers"]
    targets = load_targets(rt.settings.paths.resolve("targets", "targets.yaml"))
    # One replay of the stored events serves every window set for KPI_TTL_S; each set's views are
    # built from it once. Concurrent misses wait for that one replay instead of running their own.
    replayed: dict = {"at": None, "states": None, "views": {}}
    computing = asyncio.Lock()

    async def kpis_for(windows: tuple[str, ...]) -> dict:
        async with computing:
            if replayed["at"] is None or time.monotonic() - replayed["at"] > KPI_TTL_S:
                replayed.update(states=await kpi_states(rt.engine), views={}, at=time.monotonic(), now=now_utc())
            views = replayed["views"]
            if windows not in views:
                views[windows] = kpi_views(replayed["states"], replayed["now"], windows, targets)
            return views[windows]

    @app.page("/customers/{customer_id}")
    class Customer(web.View):
        async def get(self, request: web.Request, customer_id: str) -> web.Response:
            gate = gate_of(rt)
            reader = gate if isinstance(gate, Refusal) else gate.admit(request, "read:customers")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            directory = gate.directory
            view = await customer_view(rt.engine, customer_id, now_utc(), customers.params,
                                       lambda region, owner: in_scope(reader, region, [owner] if owner else [],
                                                                      directory))
            if view is None:
                return self.json({"error": f"no customer {customer_id!r}"}, status=404)
            return self.json(view, headers={"Cache-Control": "no-store"})

    @app.page("/kpis")
    class Kpis(web.View):
        async def get(self, request: web.Request) -> web.Response:
            gate = gate_of(rt)
            reader = gate if isinstance(gate, Refusal) else gate.admit(request, "read:kpis")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            windows = windows_key(request.query.get("window", "month,total"))
            if windows is None:
                return self.json({"error": f"window must be among {', '.join(WINDOWS)}"}, status=400)
            views = await kpis_for(windows)
            if reader.region is None:
                body = {**views[None], "region": None}
            else:
                regional = views.get(reader.region) or {**views[None], "windows": {g: [] for g in windows}}
                body = scope_kpis(regional, reader, gate.directory)
            return self.bytes(orjson.dumps(body), content_type="application/json",
                              headers={"Cache-Control": "no-store"})
