"""An input topic's records -> decoded events -> a capability's handler; dead letters, redeliveries, acks after the rows.

The one consume loop of the worker: every input agent (the ingest topics, incidents.commands)
is this loop with its own decoder and handler. An event is acked only through the writer
(`BatchWriter.ack_after`), after its rows and output records are confirmed; a handler that
finishes an event later (feedback classified in another process) returns who takes the ack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from pipeline import topics as T
from pipeline.deadletters import dead_letter
from pipeline.decode import Rejected
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.deadletter import DeadLetterReason
from schemas.events import Strict

log = logging.getLogger(__name__)

AckTaker = Callable[[Callable[[], object]], None]
Decoder = Callable[[bytes | None, Meta], Strict | Rejected]
Handle = Callable[[Strict, Meta], Awaitable[AckTaker | None]]


def consume(rt: Runtime, spec: T.TopicSpec, name: str, decode: Decoder, handle: Handle) -> None:
    """A faust agent `name` on `spec`'s topic: decode each record once, dead-letter what cannot be
    taken (bad bytes, a reused event id with other content, a handler that raised), drop
    redeliveries, hand the rest to `handle`, and ack every record through the writer."""
    topic_name = rt.topic_name(spec)
    m = rt.metrics
    consumed, duplicates = m.consumed.labels(topic_name), m.duplicates.labels(topic_name)
    processing = m.processing.labels(topic_name)
    writer, seen = rt.writer, rt.seen

    async def loop(stream):
        # manual acks: an event is acked only after its rows are written (BatchWriter)
        async for event in stream.noack().events():
            await rt.admit()
            started = time.perf_counter()
            msg = event.message
            if msg.tp not in rt.assigned:  # revoked meanwhile (pipeline/transport.py): its new owner has it
                continue
            consumed.inc()
            meta = Meta(msg.topic, msg.partition, msg.offset, now_utc(), msg.value or b"", msg.key)
            result = decode(msg.value, meta)
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
                    ack_after = await handle(result, meta) or ack_after
                except Exception as exc:  # a bug or poison event must not stop the stream
                    log.exception("handler failed on %s:%s:%s", meta.topic, meta.partition, meta.offset)
                    await dead_letter(rt, DeadLetterReason.processing_error, f"{type(exc).__name__}: {exc}",
                                      meta, msg.key)
            ack_after(event.ack)
            processing.observe(time.perf_counter() - started)

    rt.app.agent(rt.topic(spec), name=name)(loop)
