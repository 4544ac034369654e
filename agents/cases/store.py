"""The cases table for people: list (scoped), respond / resolve as conditional updates; the API and the CLI share it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import func, or_, select, update

from agents.cases.core import ACTIONS, OPEN
from agents.escalation.auth import Reader, in_scope
from agents.escalation.directory import Directory, Person, department_of, queue_of
from pipeline.db.models import CaseRow

CASES = CaseRow.__table__
VIEW = ("case_id", "customer_id", "category", "state", "owner", "region", "team", "opened_at", "first_response_due",
        "resolution_due", "responded_at", "resolved_at", "feedback_count", "incident_key", "breach")
STATES = ("open", "all", "responded", "resolved")  # open = not resolved (open or responded)
Outcome = Literal["done", "missing", "conflict"]


def view(row) -> dict:
    """A row as GET /cases shows it (the contract the board reads)."""
    out = {}
    for k in VIEW:
        v = row[k]
        out["id" if k == "case_id" else k] = v.isoformat() if isinstance(v, datetime) else v
    return out


def sees(reader: Reader, row, directory: Directory) -> bool:
    """Who may see a case: the owner's region or team (auth.in_scope), and the department whose queue holds it."""
    dept = department_of(row["owner"])
    if dept is not None and isinstance(reader, Person) and reader.role == dept:
        return reader.region is None or row["region"] in (None, reader.region)
    return in_scope(reader, row["region"], [] if dept else [row["owner"]], directory)


def may_act(person: Person, row, directory: Directory) -> bool:
    """Respond / resolve: people without a region anything; a rep their own cases and their region's queues;
    a department's people their queue (in their region); leads and managers what their team or region sees."""
    if person.region is None or row["owner"] == person.id:
        return True
    dept = department_of(row["owner"])
    if person.role == "account_rep":
        return dept is not None and row["region"] == person.region
    if dept is not None and person.role == dept:
        return row["region"] in (None, person.region)
    return in_scope(person, row["region"], [] if dept else [row["owner"]], directory)


def mine(person: Person, row) -> bool:
    return row["owner"] in (person.id, queue_of(person.role))


async def get(engine, case_id: str):
    async with engine.connect() as conn:
        return (await conn.execute(select(CASES).where(CASES.c.case_id == case_id))).mappings().first()


async def list_cases(engine, state: str = "open", *, reader: Reader | None = None, directory: Directory | None = None,
                     only_mine: bool = False, limit: int = 200) -> list[dict]:
    """Soonest resolution first; with a reader, what their scope shows (None: every case, for the CLI)."""
    q = select(CASES).order_by(CASES.c.resolution_due, CASES.c.case_id)
    if state == "open":
        q = q.where(CASES.c.state.in_(OPEN))
    elif state != "all":
        q = q.where(CASES.c.state == state)
    out: list[dict] = []
    async with engine.connect() as conn:
        result = await conn.stream(q)
        async for row in result.mappings():
            if reader is not None and not sees(reader, row, directory):
                continue
            if only_mine and not (isinstance(reader, Person) and mine(reader, row)):
                continue
            out.append(view(row))
            if len(out) >= limit:
                break
    return out


async def act(engine, case_id: str, action: str, now: datetime) -> tuple[Outcome, dict | None]:
    """respond | resolve as one conditional UPDATE (WHERE state IN the states it fits), so of two people or
    workers acting at once exactly one wins; the row after it, or the current row on a conflict."""
    allowed, to = ACTIONS[action]
    values = {"state": to, "updated_at": now, "responded_at" if to == "responded" else "resolved_at": now}
    async with engine.begin() as conn:
        done = (await conn.execute(update(CASES).where(CASES.c.case_id == case_id, CASES.c.state.in_(allowed))
                                   .values(**values))).rowcount
    row = await get(engine, case_id)
    if row is None:
        return "missing", None
    return ("done" if done == 1 else "conflict"), dict(row)


async def timeline(engine, customer_id: str, limit: int = 200) -> list[dict]:
    """A customer's cases as timeline entries, newest first: the provider the composition root hands the
    board's customer page (`at`, `kind`, `id`, `title`, `state`, `owner`, `due_at`, `breach`)."""
    q = (select(CASES).where(CASES.c.customer_id == customer_id).order_by(CASES.c.opened_at.desc()).limit(limit))
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    out = []
    for r in rows:
        due = r["first_response_due"] if r["state"] == "open" else r["resolution_due"]
        out.append({"at": r["opened_at"].isoformat(), "kind": "case", "id": r["case_id"],
                    "title": f"{r['category']} case ({r['feedback_count']} message(s))", "state": r["state"],
                    "owner": r["owner"], "due_at": None if r["state"] == "resolved" else due.isoformat(),
                    "breach": r["breach"]})
    return out


async def open_count(engine, region: str | None, team: str | None, at: datetime) -> int:
    """Cases open at `at` in a digest subscriber's scope (a region, else a team, else all): the digests' count port."""
    q = select(func.count()).select_from(CASES).where(
        CASES.c.opened_at < at, or_(CASES.c.resolved_at.is_(None), CASES.c.resolved_at >= at))
    if region is not None:
        q = q.where(CASES.c.region == region)
    elif team is not None:
        q = q.where(CASES.c.team == team)
    async with engine.connect() as conn:
        return int((await conn.execute(q)).scalar_one())
