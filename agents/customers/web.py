"""HTTP (bearer token, scoped): GET /customers/{id}, the profile scored against every customer in SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from faust import web
from sqlalchemy import func, select

from agents.customers.book import CustomerBook
from agents.customers.profile import CustomerProfile
from agents.escalation.auth import in_scope
from agents.escalation.state import OPEN
from agents.escalation.web import ReadGate, Refusal, refuse
from pipeline.db.models import CustomerProfileRow, IncidentRow

PROFILES = CustomerProfileRow.__table__
INCIDENTS = IncidentRow.__table__


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


def register_pages(rt, customers, gate: ReadGate) -> None:
    """GET /customers/{id} for `customers` (scoring parameters), through the worker's read `gate`."""
    from pipeline.runtime import now_utc

    app = rt.app

    @app.page("/customers/{customer_id}")
    class Customer(web.View):
        async def get(self, request: web.Request, customer_id: str) -> web.Response:
            reader = gate.admit(request, "read:customers")
            if isinstance(reader, Refusal):
                return refuse(self, reader)
            directory = gate.directory
            view = await customer_view(rt.engine, customer_id, now_utc(), customers.params,
                                       lambda region, owner: in_scope(reader, region, [owner] if owner else [],
                                                                      directory))
            if view is None:
                return self.json({"error": f"no customer {customer_id!r}"}, status=404)
            return self.json(view, headers={"Cache-Control": "no-store"})
