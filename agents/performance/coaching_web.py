"""HTTP (bearer token, scoped): GET /coaching; POST /coaching/{id}/assign {topic?} | done -> the item, 400 unknown
topic, 404 unknown item, 403 outside the person's scope, 409 when the item's state does not allow it."""

from __future__ import annotations

from datetime import datetime

from faust import web

from agents.escalation.auth import authenticate
from agents.escalation.directory import Directory, Person
from agents.escalation.web import NO_STORE, ReadGate, Refusal, bearer, refuse
from agents.performance import coaching_store as store
from agents.performance.coaching import TrainingConfig
from pipeline.http import read_json_body
from pipeline.runtime import Runtime, now_utc

ACTIONS = ("assign", "done")


async def act(engine, cfg: TrainingConfig, directory: Directory, actor: Person, item_id: str, action: str,
              topic: str | None, now: datetime) -> tuple[int, dict]:
    """One action by a person -> (HTTP status, JSON body); shared by the API and the CLI."""
    row = await store.get(engine, item_id)
    if row is None:
        return 404, {"error": f"no coaching item {item_id[:80]!r}"}
    if not store.may_act(actor, row, directory, action):
        return 403, {"error": f"{actor.id} may not {action} coaching item {item_id} of {row['rep']} "
                              f"(team {row['team']}): outside their scope"}
    if action == "assign":
        chosen = topic if topic is not None else row["topic"]
        if not isinstance(chosen, str) or cfg.topic(chosen) is None:
            return 400, {"error": f"unknown topic {str(chosen)[:64]!r} (topics: {', '.join(t.id for t in cfg.topics)})"}
        outcome, after = await store.assign(engine, item_id, chosen, actor.id, now)
    else:
        outcome, after = await store.done(engine, item_id, actor.id, now)
    if outcome == "missing":
        return 404, {"error": f"no coaching item {item_id[:80]!r}"}
    if outcome == "conflict":
        verb, need = ("assign", "open") if action == "assign" else ("mark done", "assigned")
        return 409, {"error": f"cannot {verb} a coaching item that is {after['state']} (it must be {need})",
                     "state": after["state"]}
    return 200, store.view(after, cfg)


def register_pages(rt: Runtime, gate: ReadGate, directory: Directory, cfg: TrainingConfig) -> None:
    app = rt.app

    @app.page("/coaching")
    class CoachingList(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:coaching")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            state = request.query.get("state", "open")
            if state not in store.LISTED:
                return self.json({"error": f"state must be one of {', '.join(store.LISTED)}, not {state[:40]!r}"},
                                 status=400)
            items = await store.list_items(rt.engine, state, reader=reader, directory=directory, cfg=cfg,
                                           rep=request.query.get("rep"), team=request.query.get("team"))
            return self.json({"items": items, "topics": [t.model_dump() for t in cfg.topics]},
                             headers=dict(NO_STORE))

    @app.page("/coaching/{item_id}/{action}")
    class CoachingAction(web.View):
        async def post(self, request: web.Request, item_id: str, action: str) -> web.Response:
            if action not in ACTIONS:
                return self.json({"error": f"unknown action {action[:40]!r} (known: {', '.join(ACTIONS)})"},
                                 status=404)
            actor = authenticate(bearer(request), directory)
            if actor is None:
                return self.json({"error": "missing or unknown API token (Authorization: Bearer <token>)"}, status=401)
            if not isinstance(actor, Person):
                return self.json({"error": f"service {actor.id} may not {action} coaching items (service tokens "
                                           f"only read)"}, status=403)
            body = await read_json_body(request) if request.can_read_body else None
            topic = body.get("topic") if isinstance(body, dict) else None
            status, out = await act(rt.engine, cfg, directory, actor, item_id, action, topic, now_utc())
            if status == 200:
                rt.metrics.coaching_items.labels("assigned" if action == "assign" else "done", out["metric"]).inc()
            return self.json(out, status=status, headers=dict(NO_STORE))
