"""Phase 1, the client limit: a bare aiokafka consumer decoding with orjson, no framework."""

from __future__ import annotations

import time

from pipeline.bench.figures import rate, rounded
from pipeline.bench.preload import wait_for_partitions


async def client_limit(bootstrap: str, topics: list[str], n: int, timeout: float = 300) -> dict:
    """A bare aiokafka consumer (no group) reading every partition from the start and decoding
    each body with orjson, until N events."""
    import orjson
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=10,
                                max_partition_fetch_bytes=4 * 2**20)
    await consumer.start()
    try:
        tps = []
        for t in topics:
            parts = consumer.partitions_for_topic(t) or await wait_for_partitions(consumer, t)
            tps += [TopicPartition(t, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count, loads = 0, orjson.loads
        cpu0, t0 = time.process_time(), time.monotonic()
        deadline = t0 + timeout
        while count < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                for rec in records:
                    loads(rec.value)
                count += len(records)
        seconds = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        return {"events": count, "seconds": round(seconds, 3), "ev_per_s": rate(count, seconds),
                "cpu_us_per_event": rounded(cpu / count * 1e6 if count else None)}
    finally:
        await consumer.stop()
