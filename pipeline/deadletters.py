"""A message the pipeline cannot take (bytes, schema, handler, storage) -> the deadletter topic and table."""

from __future__ import annotations

from pipeline import topics as T
from pipeline.db.models import DeadLetterRow
from pipeline.runtime import Meta, Runtime
from schemas.deadletter import DeadLetter, DeadLetterReason

DEAD = DeadLetterRow.__table__


async def dead_letter(rt: Runtime, reason: DeadLetterReason, detail: str, meta: Meta, key: bytes | None) -> None:
    """The record with its reason and original bytes, on the topic and in SQL; its source event is
    acked with the rest of the flush, once both are confirmed."""
    record = DeadLetter.build(
        reason=reason, detail=detail, topic=meta.topic, partition=meta.partition,
        offset=meta.offset, key=key, value=meta.raw, now=meta.received_at,
    )
    rt.metrics.invalid.labels(meta.topic, reason.value).inc()
    await rt.send(T.DEADLETTER, key, record)
    rt.writer.add(DEAD, {
        "reason": reason.value, "detail": record.detail, "source_topic": meta.topic,
        "source_partition": meta.partition, "source_offset": meta.offset,
        "value": meta.raw, "received_at": meta.received_at,
    })


def register(rt: Runtime) -> None:
    """The dead-letter table, and the events whose rows the database refuses (BatchWriter.on_refused)."""
    rt.writer.register(DEAD, conflict=["source_topic", "source_partition", "source_offset"])

    async def refused(meta: Meta, detail: str) -> None:
        await dead_letter(rt, DeadLetterReason.storage_error, detail, meta, meta.key)

    rt.writer.on_refused = refused
