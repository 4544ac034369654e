"""HTTP: /board, /board/kpis, /board/mine, /board/team, /board/customer (pages), /board/api/me|incidents (JSON),
/board/api/stream (server-sent events), GET /customers/{id}/timeline (JSON, scoped like /customers/{id})."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import orjson
from aiohttp import web as aioweb
from faust import web
from sqlalchemy import select

from agents.board.live import EVERYTHING, Hub
from agents.board.timeline import DEFAULT_LIMIT, MAX_LIMIT, TimelineProvider, timeline
from agents.board.view import item, me, sort_key, visible
from agents.escalation.auth import can_act
from agents.escalation.web import Refusal, refuse
from agents.escalation.state import OPEN, IncidentState
from pipeline.db.models import ClassifiedFeedbackRow, CustomerProfileRow, IncidentRow

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
# everything the pages load comes from this server; no inline script, no third party
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                           "base-uri 'none'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
FEEDBACK_PER_CUSTOMER = 3
KEEPALIVE_S = 15.0
INCIDENTS = IncidentRow.__table__
PROFILES = CustomerProfileRow.__table__
FEEDBACK = ClassifiedFeedbackRow.__table__


async def open_states(rt, esc) -> list[IncidentState]:
    """Open incidents from SQL, overlaid with this worker's own (newer: not yet written) states."""
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(INCIDENTS.c.incident_key, INCIDENTS.c.state)
                                   .where(INCIDENTS.c.status.in_(sorted(OPEN))))).all()
    states = {key: IncidentState.from_dict(state) for key, state in rows}
    states.update(esc.states)
    return [s for s in states.values() if s.is_open]


async def customer_facts(engine, customer_ids: set[str]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """Segment, churn risk and recent classified feedback per customer; empty when there is none."""
    if not customer_ids:
        return {}, {}
    ids = sorted(customer_ids)
    try:
        async with engine.connect() as conn:
            profiles = (await conn.execute(select(
                PROFILES.c.customer_id, PROFILES.c.segment, PROFILES.c.churn_risk, PROFILES.c.orders_count,
                PROFILES.c.total_spend).where(PROFILES.c.customer_id.in_(ids)))).all()
            feedback = (await conn.execute(select(
                FEEDBACK.c.customer_id, FEEDBACK.c.occurred_at, FEEDBACK.c.channel, FEEDBACK.c.text,
                FEEDBACK.c.category, FEEDBACK.c.sentiment, FEEDBACK.c.sentiment_score, FEEDBACK.c.urgency)
                .where(FEEDBACK.c.customer_id.in_(ids)).order_by(FEEDBACK.c.occurred_at.desc())
                .limit(FEEDBACK_PER_CUSTOMER * len(ids) * 4))).all()
    except Exception:  # customer data is context: the board works without it
        log.warning("board: customer facts unavailable", exc_info=True)
        return {}, {}
    facts = {cid: {"segment": seg, "churn_risk": None if risk is None else round(float(risk), 3),
                   "orders": orders, "total_spend": None if spend is None else str(spend)}
             for cid, seg, risk, orders, spend in profiles}
    recent: dict[str, list[dict]] = {}
    for cid, at, channel, text, category, sentiment, score, urgency in feedback:
        got = recent.setdefault(cid, [])
        if len(got) < FEEDBACK_PER_CUSTOMER:
            got.append({"occurred_at": at.isoformat(), "channel": channel, "text": text[:280],
                        "category": category, "sentiment": sentiment, "sentiment_score": round(score, 2),
                        "urgency": urgency})
    return facts, recent


async def board(rt, esc, person) -> dict:
    mine = [s for s in await open_states(rt, esc) if visible(person, s, esc.policy)]
    facts, recent = await customer_facts(rt.engine, {s.customer_id for s in mine if s.customer_id})
    cards = [item(s, facts.get(s.customer_id), recent.get(s.customer_id, [])) for s in mine]
    cards.sort(key=sort_key)
    return {"now": datetime.now(timezone.utc).isoformat(), "me": me(person, esc.policy), "incidents": cards}


def register(rt, esc, timeline_providers: Iterable[TimelineProvider] = ()) -> None:
    """The board's pages and live stream over the escalator `esc` (its incidents, directory and read gate);
    `timeline_providers` add other capabilities' entries (cases) to a customer's timeline."""
    providers = list(timeline_providers)
    app = rt.app
    hub = Hub(rt.engine)
    esc.listeners.append(hub.on_change)
    files = {p.name: (p.read_bytes(), TYPES[p.suffix]) for p in STATIC.iterdir() if p.suffix in TYPES}

    @app.timer(interval=1.0)
    async def _board_poll() -> None:
        try:
            await hub.poll()
        except Exception:  # database away: the next tick tries again, the stream stays open
            log.debug("board: poll failed", exc_info=True)

    @app.on_before_shutdown.connect
    async def _board_close(app, **kwargs) -> None:
        hub.close()

    def who(view: web.View, request):
        """(escalator, person) for a person's token within its read rate, else the error answer."""
        person = esc.gate.admit(request, None)
        if isinstance(person, Refusal):
            return view.json({"error": person.error}, status=person.status, headers={**API_HEADERS, **person.headers})
        return esc, person

    def page(name: str):
        class Page(web.View):
            async def get(self, request: web.Request) -> web.Response:
                body, ctype = files[name]
                return self.bytes(body, content_type=ctype.split(";")[0], headers=dict(PAGE_HEADERS))
        return Page

    app.page("/board")(page("board.html"))
    app.page("/board/kpis")(page("kpis.html"))
    app.page("/board/mine")(page("mine.html"))
    app.page("/board/team")(page("team.html"))     # reads GET /scorecards (agents/performance)
    app.page("/board/customer")(page("customer.html"))  # ?id=: a query, so any customer id fits the URL

    @app.page("/customers/{customer_id}/timeline")
    class Timeline(web.View):
        async def get(self, request: web.Request, customer_id: str) -> web.Response:
            reader = esc.gate.admit(request, "read:customers")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            try:
                limit = min(MAX_LIMIT, max(1, int(request.query.get("limit", DEFAULT_LIMIT))))
            except ValueError:
                return self.json({"error": "limit must be a whole number"}, status=400, headers=dict(API_HEADERS))
            found = await timeline(rt.engine, reader, customer_id, esc.policy.directory, providers, limit)
            if found is None:
                return self.json({"error": f"no customer {customer_id!r}"}, status=404, headers=dict(API_HEADERS))
            return self.json(found, headers=dict(API_HEADERS))

    @app.page("/board/static/{name}")
    class Static(web.View):
        async def get(self, request: web.Request, name: str) -> web.Response:
            if name not in files:  # only the files shipped in static/, never a path
                return self.json({"error": f"no file {name!r}"}, status=404)
            body, ctype = files[name]
            return self.bytes(body, content_type=ctype.split(";")[0], headers=dict(PAGE_HEADERS))

    @app.page("/board/api/me")
    class Me(web.View):
        async def get(self, request: web.Request) -> web.Response:
            found = who(self, request)
            if not isinstance(found, tuple):  # an error answer
                return found
            esc, person = found
            return self.json(me(person, esc.policy), headers=dict(API_HEADERS))

    @app.page("/board/api/incidents")
    class Incidents(web.View):
        async def get(self, request: web.Request) -> web.Response:
            found = who(self, request)
            if not isinstance(found, tuple):  # an error answer
                return found
            esc, person = found
            return self.json(await board(rt, esc, person), headers=dict(API_HEADERS))

    @app.page("/board/api/stream")
    class Stream(web.View):
        async def get(self, request: web.Request):
            found = who(self, request)
            if not isinstance(found, tuple):  # an error answer
                return found
            esc, person = found
            resp = aioweb.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                                  "X-Accel-Buffering": "no"})
            await resp.prepare(request)
            q = hub.subscribe()
            try:
                await resp.write(b"retry: 1000\nevent: hello\ndata: {}\n\n")
                while True:
                    try:
                        key = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                    except TimeoutError:
                        await resp.write(b": keep-alive\n\n")
                        continue
                    keys = {key}
                    while not q.empty():
                        keys.add(q.get_nowait())
                    if None in keys:  # shutting down
                        break
                    shown = [k for k in sorted(keys) if k == EVERYTHING or concerns(esc, person, k)]
                    if shown:
                        await resp.write(b"event: changed\ndata: " + orjson.dumps(shown) + b"\n\n")
            except ConnectionResetError:  # the reader went away
                pass
            finally:
                hub.unsubscribe(q)
            return resp

    def concerns(esc, person, key: str) -> bool:
        """Tell a reader about an incident they may act on (also once it closed, so it leaves their board)."""
        s = esc.states.get(key)
        if s is None:
            return True  # another worker's incident: the refresh applies the rule
        return can_act(person, s, esc.policy)
