"""Coaching in SQL: an observation slot -> streaks and items (claimed once per slot); items listed by scope;
assign / done as conditional updates with the metric before and after. The worker, the API and the CLI share it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from agents.escalation.auth import Reader, in_scope
from agents.escalation.directory import Directory, Person
from agents.performance.coaching import OPEN, Held, Member, Observations, Step, Streak, TrainingConfig, step
from pipeline.db.models import CoachingItemRow, CoachingStreakRow, CoachingSweepRow, TrainingAssignmentRow

SWEEPS, STREAKS = CoachingSweepRow.__table__, CoachingStreakRow.__table__
ITEMS, ASSIGNMENTS = CoachingItemRow.__table__, TrainingAssignmentRow.__table__
LISTED = ("open", "all", "assigned", "done", "recovered")   # open = open or assigned
Outcome = Literal["done", "missing", "conflict"]
_A = ("state", "assigned_by", "assigned_at", "before_value", "done_by", "done_at", "after_value")


def _iso(v):
    return v.isoformat() if isinstance(v, datetime) else v


def view(row, cfg: TrainingConfig | None = None) -> dict:
    """An item (joined with its assignment) as GET /coaching shows it: the contract the board reads."""
    topic = cfg.topic(row["topic"]) if cfg is not None else None
    out = {"id": row["item_id"], **{k: _iso(row[k]) for k in (
        "rep", "team", "region", "metric", "state", "opened_at", "opened_value", "opened_median", "current_value",
        "current_median", "observed_at", "closed_at")}, "topic": row["topic"],
        "topic_title": topic.title if topic else None, "topic_link": topic.link if topic else None}
    out["assignment"] = None if row["a_state"] is None else {
        "topic": row["a_topic"], **{k: _iso(row[f"a_{k}"]) for k in _A}}
    return out


def sees(reader: Reader, row, directory: Directory) -> bool:
    """A rep their own items, a team lead their team's, anyone else with a region that region's, no region all."""
    if not isinstance(reader, Person):
        return in_scope(reader, row["region"], (), directory)
    if reader.region is None or row["rep"] == reader.id:
        return True
    if reader.role == "account_rep":
        return False
    if reader.role == "team_lead":
        return reader.team is not None and row["team"] == reader.team
    return row["region"] == reader.region


def may_act(person: Person, row, directory: Directory, action: str) -> bool:
    """Assign: whoever sees the item but the rep it is about; done: also that rep (they took the training)."""
    if not sees(person, row, directory):
        return False
    return action == "done" or row["rep"] != person.id


def _joined():
    a = ASSIGNMENTS.c
    return (select(ITEMS, a.topic.label("a_topic"), *(a[k].label(f"a_{k}") for k in _A))
            .select_from(ITEMS.outerjoin(ASSIGNMENTS, ASSIGNMENTS.c.item_id == ITEMS.c.item_id)))


async def get(engine, item_id: str):
    async with engine.connect() as conn:
        return (await conn.execute(_joined().where(ITEMS.c.item_id == item_id))).mappings().first()


async def list_items(engine, state: str = "open", *, reader: Reader | None = None,
                     directory: Directory | None = None, cfg: TrainingConfig | None = None,
                     rep: str | None = None, team: str | None = None, limit: int = 500) -> list[dict]:
    """Oldest open first; with a reader, what their scope shows (None: every item, for the CLI)."""
    q = _joined().order_by(ITEMS.c.opened_at, ITEMS.c.item_id)
    if state == "open":
        q = q.where(ITEMS.c.state.in_(OPEN))
    elif state != "all":
        q = q.where(ITEMS.c.state == state)
    if rep is not None:
        q = q.where(ITEMS.c.rep == rep)
    if team is not None:
        q = q.where(ITEMS.c.team == team)
    out: list[dict] = []
    async with engine.connect() as conn:
        for row in (await conn.execute(q)).mappings():
            if reader is not None and not sees(reader, row, directory):
                continue
            out.append(view(row, cfg))
            if len(out) >= limit:
                break
    return out


async def swept(engine, slot: datetime) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(SWEEPS.c.slot).where(SWEEPS.c.slot == slot))).first() is not None


async def sweep(engine, cfg: TrainingConfig, members: Mapping[str, Member], at: datetime,
                observations: Observations) -> Step | None:
    """Observe `at`'s slot: claim it (a coaching_sweeps row), run the core on the stored streaks and open items,
    write what it changed, all in one transaction. None: the slot was observed already (another worker, a
    restart): the claim's primary key makes a second sweep of a slot fail and roll back whole."""
    slot = cfg.slot(at)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(SWEEPS).values(slot=slot, swept_at=at, reps=len(observations), opened=0))
            streaks = {(r.rep, r.metric): Streak(r.behind, r.ok)
                       for r in (await conn.execute(select(STREAKS))).all()}
            held = {(r.rep, r.metric): Held(r.item_id, r.state) for r in (await conn.execute(
                select(ITEMS.c.item_id, ITEMS.c.rep, ITEMS.c.metric, ITEMS.c.state)
                .where(ITEMS.c.state.in_(OPEN)))).all()}
            out = step(cfg, at, observations, members, streaks, held)
            await _write(conn, out, streaks, at)
            await conn.execute(update(SWEEPS).where(SWEEPS.c.slot == slot).values(opened=len(out.opened)))
    except IntegrityError:
        return None
    return out


async def _write(conn, out: Step, before: Mapping, at: datetime) -> None:
    rows = [{"rep": r, "metric": m, "behind": s.behind, "ok": s.ok, "updated_at": at}
            for (r, m), s in out.streaks.items()]
    new = [row for row in rows if (row["rep"], row["metric"]) not in before]
    old = [{f"b_{k}": v for k, v in row.items()} for row in rows if (row["rep"], row["metric"]) in before]
    if new:
        await conn.execute(insert(STREAKS), new)
    if old:
        await conn.execute(update(STREAKS).where(STREAKS.c.rep == bindparam("b_rep"),
                                                 STREAKS.c.metric == bindparam("b_metric"))
                           .values(behind=bindparam("b_behind"), ok=bindparam("b_ok"),
                                   updated_at=bindparam("b_updated_at")), old)
    if out.opened:
        await conn.execute(insert(ITEMS), [o.row(at) for o in out.opened])
    for item_id in out.recovered:  # unless a lead assigned it meanwhile
        await conn.execute(update(ITEMS).where(ITEMS.c.item_id == item_id, ITEMS.c.state == "open")
                           .values(state="recovered", closed_at=at, updated_at=at))
    opened = {(o.rep, o.metric) for o in out.opened}
    current = [{"b_rep": r, "b_metric": m, "b_value": v, "b_median": md}
               for (r, m), (v, md) in out.current.items() if (r, m) not in opened]
    if current:  # every item of the rep and metric but recovered ones: done items show how it went on
        await conn.execute(update(ITEMS).where(ITEMS.c.rep == bindparam("b_rep"),
                                               ITEMS.c.metric == bindparam("b_metric"), ITEMS.c.state != "recovered")
                           .values(current_value=bindparam("b_value"), current_median=bindparam("b_median"),
                                   observed_at=at), current)


async def assign(engine, item_id: str, topic: str, by: str, now: datetime) -> tuple[Outcome, dict | None]:
    """open -> assigned with a training assignment holding the metric as last observed (before), as one
    conditional UPDATE: of two leads assigning at once exactly one wins. The row after it, or as it is."""
    async with engine.begin() as conn:
        row = (await conn.execute(select(ITEMS.c.rep, ITEMS.c.current_value).where(ITEMS.c.item_id == item_id))).first()
        done = 0
        if row is not None:
            done = (await conn.execute(update(ITEMS).where(ITEMS.c.item_id == item_id, ITEMS.c.state == "open")
                                       .values(state="assigned", updated_at=now))).rowcount
        if done == 1:
            await conn.execute(insert(ASSIGNMENTS).values(
                item_id=item_id, rep=row.rep, topic=topic, state="assigned", assigned_by=by, assigned_at=now,
                before_value=row.current_value))
    return await _after(engine, item_id, done)


async def done(engine, item_id: str, by: str, now: datetime) -> tuple[Outcome, dict | None]:
    """assigned -> done, the assignment closed with the metric as last observed (after)."""
    async with engine.begin() as conn:
        finished = (await conn.execute(update(ITEMS).where(ITEMS.c.item_id == item_id, ITEMS.c.state == "assigned")
                                       .values(state="done", closed_at=now, updated_at=now))).rowcount
        if finished == 1:
            after = (await conn.execute(select(ITEMS.c.current_value).where(ITEMS.c.item_id == item_id))).scalar()
            await conn.execute(update(ASSIGNMENTS).where(ASSIGNMENTS.c.item_id == item_id)
                               .values(state="done", done_by=by, done_at=now, after_value=after))
    return await _after(engine, item_id, finished)


async def _after(engine, item_id: str, changed: int) -> tuple[Outcome, dict | None]:
    row = await get(engine, item_id)
    if row is None:
        return "missing", None
    return ("done" if changed == 1 else "conflict"), dict(row)
