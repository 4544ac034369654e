"""HTTP: bearer token -> reader (ReadGate); GET /incidents (scoped); POST /incidents/{key}/ack|resolve -> commands."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import NamedTuple

from faust import web
from sqlalchemy import select

from agents.escalation.auth import Reader, authenticate, can_act, may_read, sees_incident
from agents.escalation.directory import Directory, Person
from agents.escalation.state import OPEN, IncidentState
from pipeline import topics as T
from pipeline.db.models import IncidentRow
from pipeline.http import read_json_body
from pipeline.ratelimit import TokenBucket, retry_after
from schemas.escalation import IncidentCommand

INCIDENTS = IncidentRow.__table__
LIST_COLUMNS = ("incident_key", "status", "severity", "category", "title", "customer_id", "region", "level",
                "level_name", "loop", "count", "first_seen", "last_seen", "next_deadline", "acked_by",
                "acked_at", "resolved_by", "resolved_at", "parent_key")
NO_STORE = {"Cache-Control": "no-store"}


class Refusal(NamedTuple):
    status: int
    error: str
    headers: dict[str, str]


def bearer(request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


class ReadGate:
    """A request's bearer token -> the reader it names, or why not: 401 unknown, 403 not its route, 429 over its rate.

    Every read route asks it first, so no read answers without a token and none costs the worker more
    than `rate` reads a second per token (each read can scan SQL).
    """

    def __init__(self, directory: Directory, rate: float, burst: int, clock=time.monotonic) -> None:
        self.directory = directory
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, TokenBucket] = {}   # one per directory entry: bounded

    def admit(self, request, scope: str | None) -> Reader | Refusal:
        """`scope` names what a service needs (read:kpis, ...); None: a route for people only (the board)."""
        reader = authenticate(bearer(request), self.directory)
        if reader is None:
            return Refusal(401, "missing or unknown API token (Authorization: Bearer <token>)", dict(NO_STORE))
        if scope is None and not isinstance(reader, Person):
            return Refusal(403, f"service {reader.id} may not use this route (it is for people)", dict(NO_STORE))
        if scope is not None and not may_read(reader, scope):
            return Refusal(403, f"service {reader.id} lacks scope {scope}", dict(NO_STORE))
        bucket = self.buckets.setdefault(reader.id, TokenBucket(self.rate, self.burst))
        wait = bucket.take(1, self.clock())
        if wait:
            return Refusal(429, f"over {self.rate:g} reads/s for this token; retry later",
                           {**NO_STORE, **retry_after(wait)})
        return reader


def refuse(view: web.View, refusal: Refusal) -> web.Response:
    return view.json({"error": refusal.error}, status=refusal.status, headers=refusal.headers)


def _row(r) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in zip(LIST_COLUMNS, r)}


async def list_incidents(engine, state: str | None = "open", limit: int = 200, reader: Reader | None = None,
                         directory: Directory | None = None) -> list[dict]:
    """Newest first; with a reader, only the incidents in their scope (None: every incident, for the CLI)."""
    cols = [INCIDENTS.c[c] for c in LIST_COLUMNS]
    q = select(*cols, INCIDENTS.c.state).order_by(INCIDENTS.c.first_seen.desc())
    if state == "open":
        q = q.where(INCIDENTS.c.status.in_(sorted(OPEN)))
    elif state:
        q = q.where(INCIDENTS.c.status == state)
    if reader is None or reader.region is None:
        async with engine.connect() as conn:
            rows = (await conn.execute(q.limit(limit))).all()
        return [_row(r) for r in rows]
    region_at = LIST_COLUMNS.index("region")
    out: list[dict] = []
    async with engine.connect() as conn:
        result = await conn.stream(q)
        async for r in result:
            # the row's region settles most; only other regions' chains need the stored state
            if r[region_at] == reader.region or sees_incident(reader, IncidentState.from_dict(r[-1]), directory):
                out.append(_row(r))
                if len(out) >= limit:
                    break
    return out


async def load_state(rt, esc, key: str) -> IncidentState | None:
    if key in esc.states:
        return esc.states[key]
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(INCIDENTS.c.state).where(INCIDENTS.c.incident_key == key))).first()
    return IncidentState.from_dict(row[0]) if row else None


def register_pages(rt, esc) -> None:
    """The incident routes, and the read gate every read route of the worker asks (`esc.gate`)."""
    app = rt.app
    web_settings = rt.settings.web
    gate = esc.gate = ReadGate(esc.policy.directory, web_settings.read_rate_per_s, web_settings.read_burst)

    @app.page("/incidents")
    class Incidents(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:incidents")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            state = request.query.get("state", "open")
            if state not in ("open", "all", *sorted(OPEN), "resolved"):
                return self.json({"error": f"state must be open, all or a status, not {state!r}"}, status=400)
            try:
                limit = min(1000, max(1, int(request.query.get("limit", "200"))))
            except ValueError:
                return self.json({"error": "limit must be a whole number"}, status=400)
            found = await list_incidents(rt.engine, None if state == "all" else state, limit, reader,
                                         esc.policy.directory)
            return self.json({"incidents": found}, headers=dict(NO_STORE))

    async def command(self, request: web.Request, key: str, kind: str) -> web.Response:
        actor = authenticate(bearer(request), esc.policy.directory)
        if actor is None:
            return self.json({"error": "missing or unknown API token (Authorization: Bearer <token>)"}, status=401)
        if not isinstance(actor, Person):
            return self.json({"error": f"service {actor.id} may not {kind} incidents (service tokens only read)"},
                             status=403)
        state = await load_state(rt, esc, key)
        if state is None:
            return self.json({"error": f"no incident {key!r}"}, status=404)
        if not can_act(actor, state, esc.policy):
            where = "" if sees_incident(actor, state, esc.policy.directory) else \
                f" outside their scope (region {state.region or 'none'})"
            return self.json({"error": f"{actor.id} may not {kind} an incident at level "
                                       f"{state.current.level + 1} ({state.current.name}){where}"}, status=403)
        comment = None
        if request.can_read_body:
            # bounded in size and depth; a bad encoding or body answers one 4xx line (pipeline.http.guard)
            body = await read_json_body(request)
            comment = str(body.get("comment"))[:1000] if isinstance(body, dict) and body.get("comment") else None
        cmd = IncidentCommand(occurred_at=datetime.now(timezone.utc), type=kind, incident_key=key,
                              by=actor.id, comment=comment)
        await rt.send(T.INCIDENT_COMMANDS, key, cmd)
        return self.json({"accepted": True, "command": cmd.model_dump(mode="json")}, status=202)

    @app.page("/incidents/{key}/ack")
    class Ack(web.View):
        async def post(self, request: web.Request, key: str) -> web.Response:
            return await command(self, request, key, "ack")

    @app.page("/incidents/{key}/resolve")
    class Resolve(web.View):
        async def post(self, request: web.Request, key: str) -> web.Response:
            return await command(self, request, key, "resolve")
