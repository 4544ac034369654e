"""HTTP (bearer token, scoped): GET /kpis, `kpis replay`'s code over the events stored in SQL."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import orjson
from faust import web
from sqlalchemy import select

from agents.escalation.auth import Reader, in_scope
from agents.escalation.web import ReadGate, Refusal, refuse
from pipeline.currency import Rates, load_rates
from agents.kpis.report import kpi_snapshots
from agents.kpis.state import KpiState, apply_funnel, apply_order, apply_spend
from agents.kpis.targets import load_targets
from pipeline.db.models import ReceivedEvent
from schemas.events import INPUT_ADAPTER, CampaignSpendEvent, FunnelEvent, OrderEvent

EVENTS = ReceivedEvent.__table__
WINDOWS = ("hour", "day", "month", "total")
KPI_TTL_S = 5.0  # the stored events are replayed for /kpis at most this often


def kpi_views(states: dict[str | None, KpiState], now: datetime, windows: tuple[str, ...], targets) -> dict:
    """region (None: every region) -> the GET /kpis answer over that region's orders and funnel moves."""
    def view(state: KpiState) -> dict:
        return {"as_of": now.isoformat(), "currency": state.rates.reporting_currency, "windows": {
            g: [s.model_dump(mode="json", exclude={"event_type", "schema_version", "event_id", "occurred_at"})
                for s in kpi_snapshots(state, g, now, targets)] for g in windows}}
    return {region: view(state) for region, state in states.items()}


async def kpi_states(engine, rates: Rates, regions: bool = True) -> dict[str | None, KpiState]:
    """One replay of the stored events into the company's KPIs (key None) and each region's (campaign
    spend has no region: it counts company-wide only), in the reporting currency of `rates`."""
    states: dict[str | None, KpiState] = {None: KpiState(rates)}
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
                apply(states.setdefault(e.region, KpiState(rates)), e)
    return states


async def kpi_view(engine, now: datetime, windows: tuple[str, ...], targets, rates: Rates) -> dict:
    """The company's KPIs (`salespulse kpis show`: whoever reads the database sees everything)."""
    return kpi_views(await kpi_states(engine, rates, regions=False), now, windows, targets)[None]


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


def register_pages(rt, gate: ReadGate, rates: Rates | None = None) -> None:
    """GET /kpis through the worker's read `gate`: a regional reader sees their region's replay, in the
    reporting currency of `rates` (default: the settings' currencies file)."""
    from pipeline.runtime import now_utc

    app = rt.app
    paths = rt.settings.paths
    rates = rates or load_rates(paths.resolve("currencies", "currencies.yaml"))
    targets = load_targets(paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
    # One replay of the stored events serves every window set for KPI_TTL_S; each set's views are
    # built from it once. Concurrent misses wait for that one replay instead of running their own.
    replayed: dict = {"at": None, "states": None, "views": {}}
    computing = asyncio.Lock()

    async def kpis_for(windows: tuple[str, ...]) -> dict:
        async with computing:
            if replayed["at"] is None or time.monotonic() - replayed["at"] > KPI_TTL_S:
                replayed.update(states=await kpi_states(rt.engine, rates), views={}, at=time.monotonic(), now=now_utc())
            views = replayed["views"]
            if windows not in views:
                views[windows] = kpi_views(replayed["states"], replayed["now"], windows, targets)
            return views[windows]

    @app.page("/kpis")
    class Kpis(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:kpis")
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
