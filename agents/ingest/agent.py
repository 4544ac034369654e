"""feedback.raw, orders, incidents.raw, funnel, campaign.spend -> handlers, events table, deadletter."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from pipeline import topics as T
from pipeline.db.models import ReceivedEvent
from pipeline.deadletters import dead_letter
from pipeline.decode import Rejected, decode
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.deadletter import DeadLetterReason
from schemas.events import EventBase

log = logging.getLogger(__name__)

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
    topic = rt.topic(spec)
    name = rt.topic_name(spec)
    m = rt.metrics
    consumed = m.consumed.labels(name)
    processed = m.processed.labels(name)
    duplicates = m.duplicates.labels(name)
    processing = m.processing.labels(name)
    latency = m.latency.labels(name)
    writer = rt.writer
    seen = rt.seen
    max_bytes = rt.settings.worker.max_event_bytes
    skew = timedelta(seconds=rt.settings.worker.future_tolerance_s)

    async def ingest(stream):
        # manual acks: an event is acked only after its rows are written (BatchWriter)
        async for event in stream.noack().events():
            await rt.admit()
            started = time.perf_counter()
            msg = event.message
            if msg.tp not in rt.assigned:  # revoked meanwhile (pipeline/transport.py): its new owner has it
                continue
            consumed.inc()
            meta = Meta(msg.topic, msg.partition, msg.offset, now_utc(), msg.value or b"", msg.key)
            result = decode(msg.value, expected_types=expected, max_bytes=max_bytes, not_after=meta.received_at + skew)
            ack_after = writer.ack_after
            if isinstance(result, Rejected):
                await dead_letter(rt, result.reason, result.detail, meta, msg.key)
            elif (known := seen.remember(result.event_id, hash(meta.raw))) == seen.REDELIVERED:
                duplicates.inc()
            elif known == seen.CONFLICTING:
                await dead_letter(rt, DeadLetterReason.conflicting_duplicate,
                                  f"event_id {result.event_id} was processed before with other content; "
                                  "this message is kept here, not processed", meta, msg.key)
            else:
                try:
                    for handler in rt.handlers.get(result.event_type, ()):
                        # a handler that finishes the event later (feedback: the classifier's
                        # process) returns who takes its ack and registers it once its rows are added
                        ack_after = await handler(result, meta) or ack_after
                except Exception as exc:  # a bug or poison event must not stop the stream
                    log.exception("handler failed on %s:%s:%s", meta.topic, meta.partition, meta.offset)
                    await dead_letter(rt, DeadLetterReason.processing_error, f"{type(exc).__name__}: {exc}", meta, msg.key)
                else:
                    writer.add(EVENTS, event_row(result, meta), source=meta)
                    processed.inc()
                    latency.observe(max(0.0, (meta.received_at - result.occurred_at).total_seconds()))
            ack_after(event.ack)
            processing.observe(time.perf_counter() - started)

    rt.app.agent(topic, name=f"ingest-{spec.name}")(ingest)
