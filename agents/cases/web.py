"""HTTP: GET /cases (scoped, ?state, ?mine=1); POST /cases/{id}/respond|resolve -> 200 row | 404 | 403 | 409."""

from __future__ import annotations

from faust import web

from agents.cases import store
from agents.escalation.auth import authenticate
from agents.escalation.directory import Directory, Person
from agents.escalation.web import NO_STORE, ReadGate, Refusal, bearer, refuse
from pipeline.runtime import Runtime, now_utc


def register_pages(rt: Runtime, gate: ReadGate, directory: Directory) -> None:
    app = rt.app

    @app.page("/cases")
    class CasesList(web.View):
        async def get(self, request: web.Request) -> web.Response:
            reader = gate.admit(request, "read:cases")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            state = request.query.get("state", "open")
            if state not in store.STATES:
                return self.json({"error": f"state must be one of {', '.join(store.STATES)}, not {state[:40]!r}"},
                                 status=400)
            mine = request.query.get("mine", "0")
            if mine not in ("0", "1"):
                return self.json({"error": f"mine must be 0 or 1, not {mine[:40]!r}"}, status=400)
            try:
                limit = min(1000, max(1, int(request.query.get("limit", "200"))))
            except ValueError:
                return self.json({"error": "limit must be a whole number"}, status=400)
            found = await store.list_cases(rt.engine, state, reader=reader, directory=directory,
                                           only_mine=mine == "1", limit=limit)
            return self.json({"cases": found}, headers=dict(NO_STORE))

    async def action(view: web.View, request: web.Request, case_id: str, kind: str) -> web.Response:
        actor = authenticate(bearer(request), directory)
        if actor is None:
            return view.json({"error": "missing or unknown API token (Authorization: Bearer <token>)"}, status=401)
        if not isinstance(actor, Person):
            return view.json({"error": f"service {actor.id} may not {kind} cases (service tokens only read)"},
                             status=403)
        row = await store.get(rt.engine, case_id)
        if row is None:
            return view.json({"error": f"no case {case_id[:80]!r}"}, status=404)
        if not store.may_act(actor, row, directory):
            return view.json({"error": f"{actor.id} may not {kind} case {case_id} of {row['owner']} "
                                       f"(region {row['region'] or 'none'}): outside their scope"}, status=403)
        outcome, after = await store.act(rt.engine, case_id, kind, now_utc())
        if outcome == "missing":
            return view.json({"error": f"no case {case_id[:80]!r}"}, status=404)
        if outcome == "conflict":
            return view.json({"error": f"cannot {kind} a case that is {after['state']}", "state": after["state"]},
                             status=409)
        return view.json(store.view(after), headers=dict(NO_STORE))

    @app.page("/cases/{case_id}/respond")
    class Respond(web.View):
        async def post(self, request: web.Request, case_id: str) -> web.Response:
            return await action(self, request, case_id, "respond")

    @app.page("/cases/{case_id}/resolve")
    class Resolve(web.View):
        async def post(self, request: web.Request, case_id: str) -> web.Response:
            return await action(self, request, case_id, "resolve")
