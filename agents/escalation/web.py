"""HTTP: GET /incidents, POST /incidents/{key}/ack|resolve (bearer token) -> incidents.commands."""

from __future__ import annotations

from datetime import datetime, timezone

from faust import web
from sqlalchemy import select

from agents.escalation.auth import can_act, verify_token
from agents.escalation.state import OPEN, IncidentState
from pipeline import topics as T
from pipeline.db.models import IncidentRow
from schemas.escalation import IncidentCommand

INCIDENTS = IncidentRow.__table__
LIST_COLUMNS = ("incident_key", "status", "severity", "category", "title", "customer_id", "region", "level",
                "level_name", "loop", "count", "first_seen", "last_seen", "next_deadline", "acked_by",
                "acked_at", "resolved_by", "resolved_at", "parent_key")


async def list_incidents(engine, state: str | None = "open", limit: int = 200) -> list[dict]:
    cols = [INCIDENTS.c[c] for c in LIST_COLUMNS]
    q = select(*cols).order_by(INCIDENTS.c.first_seen.desc()).limit(limit)
    if state == "open":
        q = q.where(INCIDENTS.c.status.in_(sorted(OPEN)))
    elif state:
        q = q.where(INCIDENTS.c.status == state)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in zip(LIST_COLUMNS, r)} for r in rows]


async def load_state(rt, key: str) -> IncidentState | None:
    esc = rt.extras["escalator"]
    if key in esc.states:
        return esc.states[key]
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(INCIDENTS.c.state).where(INCIDENTS.c.incident_key == key))).first()
    return IncidentState.from_dict(row[0]) if row else None


def register_pages(rt) -> None:
    app = rt.app
    esc = rt.extras["escalator"]

    @app.page("/incidents")
    class Incidents(web.View):
        async def get(self, request: web.Request) -> web.Response:
            state = request.query.get("state", "open")
            if state not in ("open", "all", *sorted(OPEN), "resolved"):
                return self.json({"error": f"state must be open, all or a status, not {state!r}"}, status=400)
            try:
                limit = min(1000, max(1, int(request.query.get("limit", "200"))))
            except ValueError:
                return self.json({"error": "limit must be a whole number"}, status=400)
            return self.json({"incidents": await list_incidents(rt.engine, None if state == "all" else state, limit)})

    async def command(self, request: web.Request, key: str, kind: str) -> web.Response:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        person = verify_token(token, esc.policy.directory)
        if person is None:
            return self.json({"error": "missing or unknown API token"}, status=401)
        state = await load_state(rt, key)
        if state is None:
            return self.json({"error": f"no incident {key!r}"}, status=404)
        if not can_act(person, state, esc.policy):
            return self.json({"error": f"{person.id} may not {kind} an incident at level "
                                       f"{state.current.level + 1} ({state.current.name})"}, status=403)
        comment = None
        if request.can_read_body:
            try:
                body = await request.json()
                comment = str(body.get("comment"))[:1000] if isinstance(body, dict) and body.get("comment") else None
            except ValueError:
                return self.json({"error": "body must be JSON, e.g. {\"comment\": \"on it\"}"}, status=400)
        cmd = IncidentCommand(occurred_at=datetime.now(timezone.utc), type=kind, incident_key=key,
                              by=person.id, comment=comment)
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
