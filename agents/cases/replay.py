"""Input events + a virtual clock -> the JSON lines `salespulse cases replay` prints: each case the worker
would open and each SLA it would find missed by `now`, from the same core."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from agents.cases.core import Breach, Case, CaseCore
from agents.escalation.routing import CustomerContext
from schemas.events import EventBase, FeedbackEvent, OrderEvent
from schemas.feedback import ClassifiedFeedback

# ports the command fills: the classifier, the customers' book (orders in, context out), critical feedback's incident
Classify = Callable[[FeedbackEvent], ClassifiedFeedback]
Context = Callable[[str, datetime], CustomerContext | None]
OnOrder = Callable[[OrderEvent], None]
IncidentKeyOf = Callable[[ClassifiedFeedback], str | None]


def line(case: Case, event: str, due: datetime, sla: str) -> dict:
    return {"customer_id": case.customer_id, "category": case.category, "owner": case.owner,
            "due_at": due.isoformat(), "state": case.state, "event": event, "sla": sla, "case_id": case.case_id}


def _breaches(core: CaseCore, now: datetime) -> Iterator[dict]:
    for b in core.due(now):
        core.mark_breached(b, b.due)
        yield _breached(b)


def _breached(b: Breach) -> dict:
    return line(b.case, "breached", b.due, b.which)


def replay(events: Iterable[EventBase], core: CaseCore, now: datetime | None, *, classify: Classify,
           context: Context, on_order: OnOrder, incident_key_of: IncidentKeyOf) -> Iterator[dict]:
    """Events in time order (the file's order among equal times) up to `now`; the clock stands at each
    event's time, then at `now` (default: the latest event's time)."""
    ordered = sorted(events, key=lambda e: e.occurred_at)
    if now is not None:
        ordered = [e for e in ordered if e.occurred_at <= now]  # what happened by then, nothing after
    for e in ordered:
        yield from _breaches(core, e.occurred_at)
        if isinstance(e, OrderEvent):
            on_order(e)
        elif isinstance(e, FeedbackEvent):
            cf = classify(e)
            change = core.on_classified(cf, context(e.customer_id, e.occurred_at), 0, incident_key_of(cf),
                                        e.occurred_at)
            if change is not None and change.event == "opened":
                yield line(change.case, "opened", change.case.first_response_due, "first_response")
    end = now or (ordered[-1].occurred_at if ordered else None)
    if end is not None:
        yield from _breaches(core, end)
