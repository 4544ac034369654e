"""customer id -> one timeline, newest first: orders (events table), classified feedback, incidents and follow-ups
from SQL, plus whatever the timeline providers handed in by the composition root add (cases)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select

from agents.customers.profile import CustomerProfile
from agents.escalation.auth import Reader, in_scope, sees_incident
from agents.escalation.directory import Directory
from agents.escalation.state import IncidentState
from pipeline.db.models import (ClassifiedFeedbackRow, CustomerProfileRow, FollowUpRow, IncidentRow,
                                ReceivedEvent)

log = logging.getLogger(__name__)

TimelineProvider = Callable[[str, int], Awaitable[Iterable[Mapping[str, Any]]]]
"""(customer id, at most n) -> that customer's entries. Each entry is a mapping with `at` (aware datetime or
ISO 8601 text), `kind` (a short label: "case"), `id` and `title`, and optionally `state`, `due_at`, `detail`
and `severity`. A capability below the board (cases) hands one in through the composition root; it cannot
import this module, so the entry is plain data."""

ENTRY_KEYS = ("at", "kind", "id", "title", "state", "due_at", "detail", "severity")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
TEXT_MAX = 280                       # a feedback message is shown whole on its card, cut in the timeline
FINAL_FOLLOWUP = {"done", "dismissed"}

EVENTS = ReceivedEvent.__table__
FEEDBACK = ClassifiedFeedbackRow.__table__
INCIDENTS = IncidentRow.__table__
FOLLOWUPS = FollowUpRow.__table__
PROFILES = CustomerProfileRow.__table__


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("naive datetime")
        return v.isoformat()
    text = str(v)
    if datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return text


def entry(at: datetime, kind: str, id: str, title: str, state: str | None = None, due_at: datetime | None = None,
          detail: str | None = None, severity: str | None = None) -> dict:
    return {"at": _iso(at), "kind": kind, "id": id, "title": title, "state": state, "due_at": _iso(due_at),
            "detail": detail, "severity": severity}


def normalise(raw: Mapping[str, Any]) -> dict | None:
    """A provider's entry in the timeline's shape, or None when it lacks a time, kind, id or title (skipped:
    one bad entry must not hide the customer's page)."""
    try:
        out = {k: raw.get(k) for k in ENTRY_KEYS}
        if not (out["at"] and out["kind"] and out["id"] and out["title"]):
            return None
        out["at"], out["due_at"] = _iso(out["at"]), _iso(out["due_at"])
        for k in ("kind", "id", "title", "state", "detail", "severity"):
            if out[k] is not None:
                out[k] = str(out[k])
        return out
    except (AttributeError, TypeError, ValueError):
        return None


def merge(groups: Iterable[Iterable[dict]], limit: int) -> list[dict]:
    """Newest first (ties: by kind, then id, so the order is stable across reads); one entry per (kind, id)."""
    seen: dict[tuple[str, str], dict] = {}
    for group in groups:
        for e in group:
            seen.setdefault((e["kind"], e["id"]), e)
    ordered = sorted(seen.values(), key=lambda e: (e["kind"], e["id"]))
    ordered.sort(key=lambda e: datetime.fromisoformat(e["at"]), reverse=True)
    return ordered[:limit]


def case_entries(rows: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Rows in the shape of GET /cases (Part B's contract) -> timeline entries: a ready-made provider body for
    a cases capability that lists a customer's case rows."""
    out = []
    for c in rows:
        state = c.get("state")
        due = c.get("first_response_due") if state == "open" else c.get("resolution_due") if state == "responded" \
            else None
        n = c.get("feedback_count")
        detail = " · ".join(str(x) for x in (c.get("owner") and "owner " + str(c["owner"]),
                                             n and f"{n} message{'s' if n != 1 else ''}",
                                             c.get("breach") and f"{c['breach']} SLA breached") if x)
        got = normalise({"at": c.get("opened_at"), "kind": "case", "id": c.get("id"),
                         "title": f"Case: {str(c.get('category') or 'other').replace('_', ' ')}", "state": state,
                         "due_at": due, "detail": detail or None, "severity": "high" if c.get("breach") else None})
        if got:
            out.append(got)
    return out


def order_entry(event_id: str, at: datetime, channel: str | None, payload: str) -> dict:
    """An order event as stored (the message's JSON as received) -> one entry; an unreadable payload still
    shows that an order event happened."""
    try:
        o = orjson.loads(payload)
        o = o if isinstance(o, dict) else {}
    except orjson.JSONDecodeError:
        o = {}
    status = o.get("status") if isinstance(o.get("status"), str) else None
    items = o.get("items") if isinstance(o.get("items"), list) else []
    amount = " ".join(str(x) for x in (o.get("amount"), o.get("currency")) if x is not None)
    lines = f"{len(items)} line{'s' if len(items) != 1 else ''}" if items else None
    detail = " · ".join(x for x in (amount, channel, lines) if x) or None
    return entry(at, "order", event_id, f"Order {o.get('order_id') or ''}".strip(), status, None, detail)


async def sql_entries(conn, customer_id: str, limit: int) -> list[list[dict]]:
    """The board's own sources, each at most `limit` newest."""
    orders = (await conn.execute(
        select(EVENTS.c.event_id, EVENTS.c.occurred_at, EVENTS.c.channel, EVENTS.c.payload)
        .where(EVENTS.c.customer_id == customer_id, EVENTS.c.event_type == "order")
        .order_by(EVENTS.c.occurred_at.desc()).limit(limit))).all()
    feedback = (await conn.execute(
        select(FEEDBACK.c.event_id, FEEDBACK.c.occurred_at, FEEDBACK.c.channel, FEEDBACK.c.text,
               FEEDBACK.c.category, FEEDBACK.c.sentiment, FEEDBACK.c.urgency)
        .where(FEEDBACK.c.customer_id == customer_id)
        .order_by(FEEDBACK.c.occurred_at.desc()).limit(limit))).all()
    incidents = (await conn.execute(
        select(INCIDENTS.c.incident_key, INCIDENTS.c.first_seen, INCIDENTS.c.title, INCIDENTS.c.status,
               INCIDENTS.c.severity, INCIDENTS.c.category, INCIDENTS.c.level_name, INCIDENTS.c.next_deadline)
        .where(INCIDENTS.c.customer_id == customer_id)
        .order_by(INCIDENTS.c.first_seen.desc()).limit(limit))).all()
    # every column: the follow-up lifecycle adds state and assignee; without them a follow-up is open
    followups = (await conn.execute(
        select(FOLLOWUPS).where(FOLLOWUPS.c.customer_id == customer_id)
        .order_by(FOLLOWUPS.c.created_at.desc()).limit(limit))).mappings().all()
    return [
        [order_entry(eid, at, channel, payload) for eid, at, channel, payload in orders],
        [entry(at, "feedback", eid, text[:TEXT_MAX], sentiment, None,
               " · ".join(x.replace("_", " ") for x in (category, urgency + " urgency", channel) if x),
               "high" if urgency in ("high", "critical") else None)
         for eid, at, channel, text, category, sentiment, urgency in feedback],
        [entry(at, "incident", key, title, status, due, f"{category.replace('_', ' ')} · {level_name.replace('_', ' ')}",
               severity) for key, at, title, status, severity, category, level_name, due in incidents],
        [followup_entry(f) for f in followups],
    ]


def followup_entry(f: Mapping[str, Any]) -> dict:
    state = f.get("state") or "open"
    who = f.get("assignee") or f.get("owner_rep_id")
    detail = " · ".join(x for x in (who and f"for {who}",
                                    f.get("snoozed_until") and state == "snoozed" and f"until {_iso(f['snoozed_until'])}",
                                    f.get("dismiss_reason") and f"dismissed: {f['dismiss_reason']}") if x)
    return entry(f["created_at"], "followup", f["event_id"], "Follow-up: " + str(f["reason"]).replace("_", " "),
                 state, None if state in FINAL_FOLLOWUP else f["due_at"], detail or None)


async def may_see(conn, reader: Reader, customer_id: str, directory: Directory) -> bool:
    """The rule of GET /customers/{id}: the profile's region and owner rep decide. A customer without a profile
    (an incident or feedback before any order) is seen by whoever sees one of their incidents, as the board
    already shows them that customer's feedback on the incident's card."""
    state = (await conn.execute(select(PROFILES.c.state).where(PROFILES.c.customer_id == customer_id))).scalar()
    if state is not None:
        mine = CustomerProfile.from_dict(state)
        return in_scope(reader, mine.region, [mine.rep] if mine.rep else [], directory)
    rows = (await conn.execute(select(INCIDENTS.c.state).where(INCIDENTS.c.customer_id == customer_id))).all()
    return any(sees_incident(reader, IncidentState.from_dict(s), directory) for (s,) in rows)


async def timeline(engine, reader: Reader, customer_id: str, directory: Directory,
                   providers: Iterable[TimelineProvider] = (), limit: int = DEFAULT_LIMIT) -> dict | None:
    """{"customer_id", "entries", "incomplete"}; None when the reader may not see the customer or nothing is
    known of them (the same answer, so ids reveal nothing). `incomplete`: a provider failed (logged)."""
    async with engine.connect() as conn:
        if not await may_see(conn, reader, customer_id, directory):
            return None
        groups = await sql_entries(conn, customer_id, limit)
    incomplete = False
    for provide in providers:
        try:
            got = [e for e in (normalise(raw) for raw in await provide(customer_id, limit)) if e]
        except Exception:  # one source away: show the rest, say so
            log.warning("board: a timeline provider failed for a customer", exc_info=True)
            incomplete = True
            continue
        groups.append(got)
    return {"customer_id": customer_id, "entries": merge(groups, limit), "incomplete": incomplete}
