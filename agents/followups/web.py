"""HTTP (bearer token, scoped): GET /followups; POST /followups/{id}/start|done|snooze|dismiss -> the row,
404 unknown, 403 outside the person's scope, 409 when the state does not allow the action."""

from __future__ import annotations

from datetime import datetime

from faust import web

from agents.escalation.auth import authenticate
from agents.escalation.directory import Person
from agents.escalation.web import NO_STORE, Refusal, bearer, refuse
from agents.followups import store
from agents.followups.core import ACTIONS, STATES, Refused, allowed, may_see, transition
from pipeline.http import read_json_body
from pipeline.runtime import now_utc


def parse_until(value) -> datetime:
    if not isinstance(value, str):
        raise Refused('snooze needs "until": an ISO 8601 time with a timezone')
    try:
        until = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f'"until" is not an ISO 8601 time: {value[:60]!r}') from None
    if until.tzinfo is None:
        raise Refused('"until" needs a timezone (e.g. 2026-12-07T09:00:00+00:00)')
    return until


async def act(engine, actor, event_id: str, action: str, body: dict | None, now: datetime
              ) -> tuple[int, dict]:
    """One action by a person -> (HTTP status, JSON body); shared by the API and the CLI."""
    row = await store.get(engine, event_id)
    if row is None:
        return 404, {"error": f"no follow-up {event_id!r}"}
    if not may_see(actor, row["assignee"], row["region"], row["team"]):
        return 403, {"error": f"{actor.id} may not {action} follow-ups of {row['assignee']} "
                              f"(region {row['region'] or 'none'}) outside their scope"}
    body = body if isinstance(body, dict) else {}
    try:
        until = parse_until(body.get("until")) if action == "snooze" else None
        change = transition(action, now, until=until, reason=body.get("reason") if action == "dismiss" else None)
    except Refused as exc:
        if not allowed(action, row["state"]):  # the state settles it first: 409 says what it is
            return 409, {"error": f"cannot {action} a follow-up that is {row['state']}", "state": row["state"]}
        return 400, {"error": str(exc)}
    out = await store.apply(engine, event_id, change)
    if not out.applied:
        current = out.row["state"] if out.row else "gone"
        return 409, {"error": f"cannot {action} a follow-up that is {current}", "state": current}
    return 200, store.as_api(out.row)


def register_pages(rt, followups, gate) -> None:
    app = rt.app
    directory = followups.directory

    @app.page("/followups")
    class FollowUpList(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:followups")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            state = request.query.get("state", "open")
            if state not in ("open", "all", *STATES):
                return self.json({"error": f"state must be open, all or one of {', '.join(STATES)}, not {state!r}"},
                                 status=400)
            mine = request.query.get("mine", "0") in ("1", "true", "yes")
            rows = await store.list_followups(rt.engine, None if state == "all" else state, reader, mine)
            return self.json({"followups": [store.as_api(r) for r in rows]}, headers=dict(NO_STORE))

    @app.page("/followups/{event_id}/{action}")
    class FollowUpAction(web.View):
        async def post(self, request: web.Request, event_id: str, action: str) -> web.Response:
            if action not in ACTIONS:
                return self.json({"error": f"unknown action {action!r} (known: {', '.join(ACTIONS)})"}, status=404)
            actor = authenticate(bearer(request), directory)
            if actor is None:
                return self.json({"error": "missing or unknown API token (Authorization: Bearer <token>)"}, status=401)
            if not isinstance(actor, Person):
                return self.json({"error": f"service {actor.id} may not {action} follow-ups (service tokens only read)"},
                                 status=403)
            body = await read_json_body(request) if request.can_read_body else None
            status, out = await act(rt.engine, actor, event_id, action, body, now_utc())
            if status == 200:
                rt.metrics.followup_actions.labels(action).inc()
            return self.json(out, status=status, headers=dict(NO_STORE))
