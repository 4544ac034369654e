"""Simulated events -> the run's preloaded input topics, which every phase reads from the start."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from pipeline import topics as T


def simulated(n: int, seed: int, customers: int) -> list[tuple[str, bytes, bytes]]:
    """N simulated events as (input topic spec name, key, JSON body); seeded, deterministic."""
    from pipeline.emitter import partition_key
    from pipeline.simulate import Simulator

    sim = Simulator(seed=seed, customers=customers)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(milliseconds=5)
    out = []
    for i in range(n):
        ev = sim.next(start + i * step)
        out.append((T.TOPIC_FOR_EVENT_TYPE[ev.event_type].name, partition_key(ev), ev.model_dump_json().encode()))
    return out


# Tansu answers ListOffsets wrongly for multi-record batches (pipeline.settings); every
# reader of the preload starts from the earliest offsets, which it answers right, so the
# preload batches normally on both brokers.
PRELOAD_PRODUCER = {"linger_ms": 5, "acks": "all", "max_batch_size": 256 * 1024, "max_request_size": 4 * 2**20}


async def produce(bootstrap: str, prefix: str, events: list[tuple[str, bytes, bytes]]) -> float:
    """Send every event, batched (never awaiting each delivery); returns the seconds it took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRELOAD_PRODUCER)
    await producer.start()
    try:
        started = time.monotonic()
        pending = []
        for spec, key, value in events:
            pending.append(await producer.send(prefix + spec, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
        return time.monotonic() - started
    finally:
        await producer.stop()


async def wait_for_partitions(consumer, topic: str, timeout: float = 30) -> set[int]:
    """The partitions of `topic`, refreshing the consumer's metadata until the broker knows them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return parts
        await asyncio.sleep(0.2)
    raise RuntimeError(f"topic {topic} has no partitions after {timeout:.0f}s")
