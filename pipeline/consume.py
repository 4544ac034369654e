"""An input topic's records -> decoded events -> a capability's handler; dead letters, redeliveries, acks after the rows.

The one consume loop of the worker: every input agent (the ingest topics, incidents.commands)
is this loop with its own decoder and handler. An event is acked only through the writer
(`BatchWriter.ack_after` / `ack_many`), after its rows and output records are confirmed; a handler
that finishes an event later (feedback classified in another process) returns who takes the ack.

The loop takes its events in batches: after the first event it takes whatever the stream's channel
already holds, up to `worker.batch_max`, never waiting for more. A quiet stream therefore goes one
event at a time (no added latency), a backlog in batches as large as it is, up to the limit. Per
batch, not per event: the writer's back-pressure, the acks' registration, the consumed counter and
the processing-time and batch-size histograms. Per event, in order, as before: the revoke check,
the state-loaded check, decode, dedupe, the handler (per-key order is the partition's order).
faust's own iteration (`Stream.events`, and `take_events` on top of it, which would also ack each
event itself as soon as the batch was handled, before its rows are written) stays per event.
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
    processing, batch_events = m.processing.labels(topic_name), m.batch_events.labels(topic_name)
    writer, seen, state_ready = rt.writer, rt.seen, rt.state_ready
    batch_max = rt.settings.worker.batch_max

    async def take(event) -> Callable[[Callable[[], object]], None] | None:
        """One event: None when its ack goes with the batch's, else who takes its ack."""
        msg = event.message
        meta = Meta(msg.topic, msg.partition, msg.offset, now_utc(), msg.value or b"", msg.key)
        result = decode(msg.value, meta)
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
                return await handle(result, meta)
            except Exception as exc:  # a bug or poison event must not stop the stream
                log.exception("handler failed on %s:%s:%s", meta.topic, meta.partition, meta.offset)
                await dead_letter(rt, DeadLetterReason.processing_error, f"{type(exc).__name__}: {exc}",
                                  meta, msg.key)
        return None

    async def loop(stream):
        # manual acks: an event is acked only after its rows are written (BatchWriter)
        events = stream.noack().events().__aiter__()
        queue = getattr(stream.channel, "queue", None)
        arrived = queue.qsize if queue is not None else (lambda: 0)
        ended = False
        while not ended:
            batch = []
            try:
                batch.append(await events.__anext__())
                # what has already arrived, never waiting for more: a quiet stream goes one at a time
                while len(batch) < batch_max and arrived():
                    batch.append(await events.__anext__())
            except StopAsyncIteration:  # the stream stopped: what was taken is still handled
                ended = True
                if not batch:
                    return
            await writer.wait_room()
            started = time.perf_counter()
            acks, taken = [], 0
            for event in batch:
                if not state_ready.is_set():  # a revoke meanwhile: the new assignment's state first
                    await state_ready.wait()
                if event.message.tp not in rt.assigned:  # revoked meanwhile (pipeline/transport.py): its new owner has it
                    continue
                taken += 1
                taker = await take(event)
                if taker is None:
                    acks.append(event.ack)
                else:
                    taker(event.ack)
            writer.ack_many(acks)
            if taken:
                consumed.inc(taken)
                batch_events.observe(taken)
                processing.observe((time.perf_counter() - started) / taken)

    rt.app.agent(rt.topic(spec), name=name)(loop)
