"""feedback.raw, orders, incidents.raw, funnel, campaign.spend -> handlers, events table, deadletter."""

from __future__ import annotations

from datetime import timedelta

from pipeline import topics as T
from pipeline.consume import consume
from pipeline.db.models import ReceivedEvent
from pipeline.decode import Rejected, decode
from pipeline.runtime import Meta, Runtime
from schemas.events import EventBase

EVENTS = ReceivedEvent.__table__


def event_row(event: EventBase, meta: Meta) -> dict:
    return {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "customer_id": getattr(event, "customer_id", None),
        "channel": getattr(getattr(event, "channel", None), "value", None),
        "occurred_at": event.occurred_at,
        "received_at": meta.received_at,
        "topic": meta.topic,
        "partition": meta.partition,
        "offset": meta.offset,
        # the validated message as received: JSON text, no re-serialisation on the hot path
        "payload": meta.raw.decode(),
    }


def register(rt: Runtime) -> None:
    rt.writer.register(EVENTS, conflict=["event_id"])
    for spec in T.INPUTS:
        expected = frozenset(t for t, s in T.TOPIC_FOR_EVENT_TYPE.items() if s == spec)
        _ingest_agent(rt, spec, expected)
    from agents.ingest.web import register_pages  # POST /events, GET /openapi.json
    register_pages(rt)


def _ingest_agent(rt: Runtime, spec: T.TopicSpec, expected: frozenset[str]) -> None:
    name = rt.topic_name(spec)
    processed, latency = rt.metrics.processed.labels(name), rt.metrics.latency.labels(name)
    writer, handlers = rt.writer, rt.handlers
    max_bytes = rt.settings.worker.max_event_bytes
    skew = timedelta(seconds=rt.settings.worker.future_tolerance_s)

    def decode_event(value: bytes | None, meta: Meta) -> EventBase | Rejected:
        return decode(value, expected_types=expected, max_bytes=max_bytes, not_after=meta.received_at + skew)

    async def handle(event: EventBase, meta: Meta):
        ack_after = None
        for handler in handlers.get(event.event_type, ()):
            # a handler that finishes the event later (feedback: the classifier's process) returns
            # who takes its ack and registers it once its rows are added
            ack_after = await handler(event, meta) or ack_after
        writer.add(EVENTS, event_row(event, meta), source=meta)
        processed.inc()
        latency.observe(max(0.0, (meta.received_at - event.occurred_at).total_seconds()))
        return ack_after

    consume(rt, spec, f"ingest-{spec.name}", decode_event, handle)
