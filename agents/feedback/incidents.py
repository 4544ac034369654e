"""FeedbackEvent + Classification -> ClassifiedFeedback event, and IncidentEvent for urgent feedback."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

from schemas.events import FeedbackEvent, IncidentEvent, Severity
from schemas.feedback import Classification, ClassifiedFeedback

# Fixed namespace: the same feedback event always yields the same incident event id.
INCIDENT_NAMESPACE = uuid.UUID("5b0c1f6e-6a43-5d7e-9b0e-4f1c2a7d9e31")
TITLE_CHARS = 120
_SPACE = re.compile(r"\s+")


def incident_key(customer_id: str, category: str) -> str:
    """One open incident per customer and topic: repeated complaints merge into it."""
    digest = hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:16]
    return f"feedback:{category}:{digest}"


def incident_key_of(cf: ClassifiedFeedback, *, raise_high: bool) -> str | None:
    """The key of the incident `incident_for` raised for this classified message, or None (no incident)."""
    if cf.urgency == "critical" or (cf.urgency == "high" and raise_high):
        return incident_key(cf.customer_id, cf.category)
    return None


def incident_for(event: FeedbackEvent, result: Classification, *, raise_high: bool) -> IncidentEvent | None:
    """critical always raises an incident, high only when `raise_high`; the rest never."""
    if result.urgency == "critical":
        severity = Severity.critical
    elif result.urgency == "high" and raise_high:
        severity = Severity.high
    else:
        return None
    text = _SPACE.sub(" ", event.text).strip()
    title = text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1].rstrip() + "…"
    reasons = sorted({f"{e['rule']}: {e['term']}" for e in result.evidence
                      if e["field"] == "urgency" and e["term"] is not None})
    description = (f"{result.urgency} {result.category} feedback ({result.sentiment}, "
                   f"score {result.sentiment_score:+.2f}) via {event.channel.value}"
                   + (f"; triggers: {', '.join(reasons)}" if reasons else "")
                   + (f"; order {event.order_id}" if event.order_id else "")
                   + f"\n\n{event.text}")[:10_000]
    return IncidentEvent(
        event_id=uuid.uuid5(INCIDENT_NAMESPACE, f"incident:{event.event_id}"),
        occurred_at=event.occurred_at,
        channel=event.channel,
        customer_id=event.customer_id,
        incident_key=incident_key(event.customer_id, result.category),
        severity=severity,
        category=result.category,
        title=title or result.category,
        description=description,
    )


def classified_event(event: FeedbackEvent, result: Classification, *, classified_at: datetime) -> ClassifiedFeedback:
    """The feedback.classified event: same id as the feedback event, so redelivery upserts."""
    return ClassifiedFeedback(
        event_id=event.event_id, occurred_at=event.occurred_at, channel=event.channel,
        customer_id=event.customer_id, text=event.text, rating=event.rating, order_id=event.order_id,
        classified_at=classified_at, **{name: getattr(result, name) for name in Classification.model_fields},
    )
