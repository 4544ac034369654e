"""followups table <-> follow-up rows: scoped lists, conditional transitions, the sweep's claims (SQL only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from agents.followups.core import ACTIVE, Change, may_see
from pipeline.db.engine import upsert_statement
from pipeline.db.models import FollowUpNoticeRow, FollowUpRow

FOLLOWUPS = FollowUpRow.__table__
NOTICES = FollowUpNoticeRow.__table__
API_FIELDS = ("id", "customer_id", "reason", "assignee", "region", "team", "due_at", "state", "snoozed_until",
              "dismiss_reason", "detail", "created_at", "updated_at")
_COLUMNS = ("event_id", "customer_id", "reason", "assignee", "region", "team", "due_at", "state", "snoozed_until",
            "dismiss_reason", "task", "created_at", "updated_at", "owner_rep_id", "escalated_at", "done_at",
            "partition")


def _iso(v):
    return v.isoformat() if isinstance(v, datetime) else v


def as_row(r) -> dict:
    d = dict(zip(_COLUMNS, r))
    d["assignee"] = d["assignee"] or d["owner_rep_id"]
    d["detail"] = (d.pop("task") or {}).get("detail")
    return d


def as_api(row: dict) -> dict:
    """The GET /followups shape (contract: agents/board and README)."""
    return {k: _iso(row["event_id"] if k == "id" else row.get(k)) for k in API_FIELDS}


def _select():
    return select(*(FOLLOWUPS.c[c] for c in _COLUMNS))


async def get(engine, event_id: str) -> dict | None:
    async with engine.connect() as conn:
        r = (await conn.execute(_select().where(FOLLOWUPS.c.event_id == event_id))).first()
    return as_row(r) if r else None


async def list_followups(engine, state: str | None = "open", reader=None, mine: bool = False,
                         limit: int = 500) -> list[dict]:
    """Soonest due first; `state` None for all; with a reader only what they may see (None: the CLI, all)."""
    q = _select().order_by(FOLLOWUPS.c.due_at, FOLLOWUPS.c.event_id)
    state = None if state == "all" else state
    if state == "open":
        q = q.where(FOLLOWUPS.c.state.in_(ACTIVE))
    elif state:
        q = q.where(FOLLOWUPS.c.state == state)
    if mine and reader is not None:
        q = q.where(FOLLOWUPS.c.assignee == reader.id)
    elif reader is not None and reader.region is not None:
        q = q.where(or_(FOLLOWUPS.c.region == reader.region, FOLLOWUPS.c.assignee == reader.id))
    out: list[dict] = []
    async with engine.connect() as conn:
        result = await conn.stream(q)
        async for r in result:
            row = as_row(r)
            if reader is None or may_see(reader, row["assignee"], row["region"], row["team"]):
                out.append(row)
                if len(out) >= limit:
                    break
    return out


@dataclass(frozen=True)
class Outcome:
    row: dict | None      # the row after the change; None: no such follow-up
    applied: bool         # False: the state did not allow it (row holds the current state)


async def apply(engine, event_id: str, change: Change) -> Outcome:
    """The transition as one conditional UPDATE (WHERE state IN sources): of two racing actors one wins."""
    async with engine.begin() as conn:
        res = await conn.execute(update(FOLLOWUPS)
                                 .where(FOLLOWUPS.c.event_id == event_id, FOLLOWUPS.c.state.in_(change.sources))
                                 .values(**change.values))
        applied = res.rowcount == 1
    return Outcome(await get(engine, event_id), applied)


async def sweep_rows(engine, partitions: set[int], now: datetime) -> tuple[list[dict], list[dict]]:
    """(snoozed rows whose time has come, overdue rows not yet escalated) of the partitions this worker owns."""
    if not partitions:
        return [], []
    part = FOLLOWUPS.c.partition.in_(sorted(partitions))
    if 0 in partitions:  # rows raised without a known partition: the owner of partition 0 sweeps them
        part = or_(part, FOLLOWUPS.c.partition.is_(None))
    async with engine.connect() as conn:
        woken = (await conn.execute(_select().where(part, FOLLOWUPS.c.state == "snoozed",
                                                    FOLLOWUPS.c.snoozed_until <= now))).all()
        late = (await conn.execute(_select().where(part, FOLLOWUPS.c.state.in_(ACTIVE),
                                                   FOLLOWUPS.c.escalated_at.is_(None),
                                                   FOLLOWUPS.c.due_at < now).limit(1000))).all()
    return [as_row(r) for r in woken], [as_row(r) for r in late]


async def wake(engine, event_id: str, now: datetime) -> bool:
    async with engine.begin() as conn:
        res = await conn.execute(update(FOLLOWUPS).where(FOLLOWUPS.c.event_id == event_id,
                                                         FOLLOWUPS.c.state == "snoozed", FOLLOWUPS.c.snoozed_until <= now)
                                 .values(state="open", snoozed_until=None, updated_at=now))
    return res.rowcount == 1


async def claim_escalation(engine, event_id: str, now: datetime) -> bool:
    """Marks escalated_at if nobody did (conditional): True for the one caller that raises the incident."""
    async with engine.begin() as conn:
        res = await conn.execute(update(FOLLOWUPS).where(FOLLOWUPS.c.event_id == event_id,
                                                         FOLLOWUPS.c.escalated_at.is_(None),
                                                         FOLLOWUPS.c.state.in_(ACTIVE))
                                 .values(escalated_at=now))
    return res.rowcount == 1


async def unnotified_people(engine) -> list[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(FOLLOWUPS.c.assignee).distinct()
                                   .where(FOLLOWUPS.c.notified_at.is_(None), FOLLOWUPS.c.assignee.is_not(None)))).all()
    return [r[0] for r in rows]


async def claim_notice(engine, person_id: str, period_start: datetime, now: datetime) -> list[dict]:
    """The person's new follow-ups for one notice, or [] when another worker claimed this period already.

    The claim (a row per person and period) and the rows it lists are marked in one transaction, so a
    follow-up is in at most one notice and a person gets at most one per period whatever the workers."""
    async with engine.begin() as conn:
        ins = upsert_statement(conn.dialect.name, NOTICES, ["person_id", "period_start"], None)
        res = await conn.execute(ins.values(person_id=person_id, period_start=period_start, claimed_at=now, tasks=0))
        if res.rowcount != 1:
            return []
        rows = [as_row(r) for r in (await conn.execute(
            _select().where(FOLLOWUPS.c.assignee == person_id, FOLLOWUPS.c.notified_at.is_(None))
            .order_by(FOLLOWUPS.c.due_at).limit(200))).all()]
        if rows:
            await conn.execute(update(FOLLOWUPS).where(and_(FOLLOWUPS.c.event_id.in_([r["event_id"] for r in rows]),
                                                            FOLLOWUPS.c.notified_at.is_(None)))
                               .values(notified_at=now))
            await conn.execute(update(NOTICES).where(NOTICES.c.person_id == person_id,
                                                     NOTICES.c.period_start == period_start).values(tasks=len(rows)))
    return rows


async def overdue_count(engine, region: str | None, team: str | None, at: datetime) -> int:
    """Follow-ups overdue at `at` (still to do, due before it) in a digest subscriber's scope (a region, else a
    team, else all): the digests' count port."""
    q = select(func.count()).select_from(FOLLOWUPS).where(FOLLOWUPS.c.state.in_(ACTIVE), FOLLOWUPS.c.due_at < at)
    if region is not None:
        q = q.where(FOLLOWUPS.c.region == region)
    elif team is not None:
        q = q.where(FOLLOWUPS.c.team == team)
    async with engine.connect() as conn:
        return int((await conn.execute(q)).scalar_one())
