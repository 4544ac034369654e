"""A quiet worker fetches with a longer wait (pipeline/transport.py, `ConsumerThread.set_quiet`):
the real aiokafka fetcher builds its next requests with it, and the first record puts the short
wait back. Apache Kafka answers a fetch when data arrives, so there the long wait costs no
latency; Tansu answers when the wait is over, so there a record can wait up to it."""

from __future__ import annotations

import asyncio
import statistics
import time
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.transport import ConsumerThread

pytestmark = pytest.mark.integration

QUIET_MS = 400


async def _latencies(broker, topic: str, quiet: bool, n: int = 9) -> list[float]:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    await consumer.position(tp)
    thread = SimpleNamespace(quiet=False, _consumer=consumer,
                             app=SimpleNamespace(conf=SimpleNamespace(salespulse_idle_fetch_max_wait_ms=QUIET_MS)))
    try:
        ConsumerThread.set_quiet(thread, quiet)
        assert consumer._fetcher._fetch_max_wait_ms == (QUIET_MS if quiet else 10)
        out = []
        for _ in range(n):
            await asyncio.sleep(QUIET_MS / 1000 + 0.05)  # the fetch in flight is one with this wait
            sent = time.monotonic()
            await producer.send_and_wait(topic, b"x")
            async with asyncio.timeout(10):
                while not (await consumer.getmany(tp, timeout_ms=1000)).get(tp):
                    pass
            out.append((time.monotonic() - sent) * 1000)
        ConsumerThread.set_quiet(thread, False)  # a record arrived: the short wait is back
        assert consumer._fetcher._fetch_max_wait_ms == 10 and thread.quiet is False
        return out
    finally:
        await producer.stop()
        await consumer.stop()


async def test_a_quiet_consumer_asks_with_the_long_wait_and_a_record_puts_the_short_one_back(broker, run_id):
    topic = f"quiet{run_id}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    short = statistics.median(await _latencies(broker, topic, quiet=False))
    long = statistics.median(await _latencies(broker, topic, quiet=True))
    assert short < 60, short
    if broker.kind == "tansu":  # answers at the end of the wait: a record waits ~half of it
        assert long > 60, long
    else:  # Apache Kafka answers when the record arrives: the quiet wait costs nothing
        assert long < 100, long
