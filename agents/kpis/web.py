"""HTTP (bearer token, scoped): GET /kpis from the KPI rollups (every partition's cells, summed on read, the
rows changed since the previous read only: agents.kpis.view), and the competitors named in feedback
(agents.kpis.competitors)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from faust import web

from agents.escalation.auth import Reader, in_scope
from agents.escalation.web import ReadGate, Refusal, refuse
from agents.kpis.cells import COMPANY
from agents.kpis.competitors import competitor_counts
from agents.kpis.report import dumps
from agents.kpis.targets import TargetsConfig
from agents.kpis.view import RollupView

WINDOWS = ("hour", "day", "month", "total")
KPI_TTL_S = 1.0


def _refresh(view: RollupView, rows: list[tuple], now: datetime, targets: TargetsConfig | None,
             currency: str) -> list[dict]:
    view.apply(rows)
    return view.report(now, targets, currency)


class KpiViews:
    """This worker's RollupViews, one per scope and granularity, each read and rebuilt by one caller at a time."""

    def __init__(self, engine, targets: TargetsConfig | None, currency: str) -> None:
        self.engine, self.targets, self.currency = engine, targets, currency
        self.views: dict[tuple[str, str], RollupView] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    async def answer(self, scope: str, windows: tuple[str, ...], now: datetime) -> dict:
        out = {}
        async with self.locks.setdefault(scope, asyncio.Lock()):
            views = [self.views.setdefault((scope, g), RollupView(scope, g)) for g in windows]
            async with self.engine.connect() as conn:
                fetched = [await view.fetch(conn) for view in views]
                # mentions carry no region: company-wide readers only, as campaigns
                competitors = await competitor_counts(conn, windows, now) if scope == COMPANY else \
                    {g: [] for g in windows}
            for g, view, rows in zip(windows, views, fetched):
                out[g] = await asyncio.to_thread(_refresh, view, rows, now, self.targets, self.currency)
        return {"as_of": now.isoformat(), "currency": self.currency, "windows": out, "competitors": competitors}


async def kpi_view(engine, now: datetime, windows: tuple[str, ...], targets, rates, scope: str = COMPANY) -> dict:
    """The KPIs of one scope (the company, or a region) as the rollups hold them (`salespulse kpis show`)."""
    return await KpiViews(engine, targets, rates.reporting_currency).answer(scope, windows, now)


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


def register_pages(rt, gate: ReadGate, kpis, sections: dict | None = None) -> None:
    """GET /kpis through the worker's read `gate`: a regional reader sees their region's cells, in the
    reporting currency of the kpis capability's rates. `sections`: more top-level parts of the answer from
    other capabilities (name -> async (reader's region or None, now) -> JSON), e.g. receivables ageing."""
    from pipeline.runtime import now_utc

    app = rt.app
    views = KpiViews(rt.engine, kpis.targets, kpis.rates.reporting_currency)
    # (scope, windows) -> (read at, answer): one incremental read per scope and window set serves a second
    cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict]] = {}

    async def view_for(scope: str, windows: tuple[str, ...]) -> dict:
        hit = cache.get((scope, windows))
        if hit is None or time.monotonic() - hit[0] > KPI_TTL_S:
            now = now_utc()
            answer = await views.answer(scope, windows, now)
            for name, section in (sections or {}).items():
                answer[name] = await section(None if scope == COMPANY else scope, now)
            hit = cache[(scope, windows)] = (time.monotonic(), answer)
        return hit[1]

    @app.page("/kpis")
    class Kpis(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:kpis")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            windows = windows_key(request.query.get("window", "month,total"))
            if windows is None:
                return self.json({"error": f"window must be among {', '.join(WINDOWS)}"}, status=400)
            if reader.region is None:
                body = {**await view_for(COMPANY, windows), "region": None}
            else:
                body = scope_kpis(await view_for(reader.region, windows), reader, gate.directory)
            return self.bytes(dumps(body), content_type="application/json",
                              headers={"Cache-Control": "no-store"})
