"""Real clients (aiokafka, kafka-python, faust) against every broker we start ourselves,
and the brokers' own lifecycle: ready on start, nothing left behind on stop.

Brokers come from SALESPULSE_TEST_BROKERS (default "tansu"; "kafka" = Apache Kafka from kafka/).
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from pathlib import Path

import pytest

from pipeline.errors import BrokerError
from tests.support.services import broker_kinds, start_broker

pytestmark = pytest.mark.integration

N = 100


def tuning(kind: str) -> dict:
    """Client settings a broker needs. Tansu holds JoinGroup for half the session timeout
    and answers ListOffsets wrongly for multi-record batches, so: short sessions, 1-record batches."""
    if kind == "tansu":
        return {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "max_batch_records": 1}
    return {"session_timeout_ms": 10000, "heartbeat_interval_ms": 2000, "max_batch_records": None}


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def processes_in_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`: a broker and anything it forked."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


# --- lifecycle -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(set(broker_kinds()) | {"tansu"}))
def test_start_stop_leaves_no_process_and_no_temp_dir(kind):
    b = start_broker(kind)
    pid, workdir = b.pid, b._dir
    try:
        assert b.kind == kind
        assert b.url == f"kafka://{b.bootstrap}"
        assert processes_in_group(pid), "broker process not running after start()"
        assert workdir is not None and workdir.is_dir()
        with socket.create_connection((b.host, b.port), timeout=2):
            pass
    finally:
        b.stop()
    assert processes_in_group(pid) == []
    assert not workdir.exists()
    b.stop()  # idempotent


@pytest.mark.parametrize("kind", sorted(set(broker_kinds()) | {"tansu"}))
def test_context_manager_stops_on_error(kind):
    from pipeline.brokers.tansu import TansuBroker

    cls = TansuBroker
    if kind == "kafka":
        from pipeline.brokers.apache import ApacheKafkaBroker as cls
    with pytest.raises(RuntimeError, match="boom"):
        with cls() as b:
            pid, workdir = b.pid, b._dir
            raise RuntimeError("boom")
    assert processes_in_group(pid) == []
    assert not workdir.exists()


@pytest.mark.skipif("kafka" not in broker_kinds(), reason="SALESPULSE_TEST_BROKERS does not include kafka")
def test_kafka_that_cannot_bind_fails_fast_with_its_log():
    from pipeline.brokers.apache import ApacheKafkaBroker

    with socket.socket() as taken:  # bound, not listening: connects are refused, Kafka's bind fails
        taken.bind(("127.0.0.1", 0))
        b = ApacheKafkaBroker(port=taken.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(BrokerError) as err:
            b.start()
    assert time.monotonic() - started < 60
    assert "exited with code" in str(err.value)
    assert "Address already in use" in str(err.value) or "BindException" in str(err.value)
    assert b._proc is None and b._dir is None


@pytest.mark.skipif("kafka" not in broker_kinds(), reason="SALESPULSE_TEST_BROKERS does not include kafka")
def test_kafka_cli_detached_start_and_stop(tmp_path):
    import subprocess
    import sys

    pidfile = tmp_path / "kafka.pid"
    run = lambda *a: subprocess.run([sys.executable, "-m", "pipeline.brokers.apache", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=180)
    started = run("start", "--pidfile", str(pidfile))
    assert started.returncode == 0, started.stderr
    bootstrap = started.stdout.strip().splitlines()[-1]
    import json

    state = json.loads(pidfile.read_text())
    assert state["bootstrap"] == bootstrap and processes_in_group(state["pid"])
    assert run("start", "--pidfile", str(pidfile)).returncode == 2  # refuses to start a second one
    stopped = run("stop", "--pidfile", str(pidfile))
    assert stopped.returncode == 0, stopped.stderr
    assert processes_in_group(state["pid"]) == []
    assert not Path(state["dir"]).exists() and not pidfile.exists()


# --- clients -------------------------------------------------------------------------------

async def test_aiokafka_producer_and_consumer_group(broker):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    t = tuning(broker.kind)
    topic, group = f"compat-aio-{uuid.uuid4().hex[:8]}", f"g-aio-{uuid.uuid4().hex[:8]}"
    create_topic(broker.bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=1)
    await producer.start()
    try:
        for i in range(N):  # send_and_wait: one record per batch, which Tansu needs
            await producer.send_and_wait(topic, key=b"k%d" % (i % 5), value=b"%d" % i)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, session_timeout_ms=t["session_timeout_ms"],
        heartbeat_interval_ms=t["heartbeat_interval_ms"],
    )
    await consumer.start()
    try:
        seen: list[bytes] = []

        async def drain() -> None:
            while len(seen) < N:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend(r.value for r in records)

        await asyncio.wait_for(drain(), timeout=60)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    assert sorted(int(v) for v in seen) == list(range(N))
    assert committed == N


def test_kafka_python_producer_and_consumer_group(broker):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    t = tuning(broker.kind)
    topic, group = f"compat-kp-{uuid.uuid4().hex[:8]}", f"g-kp-{uuid.uuid4().hex[:8]}"
    create_topic(broker.bootstrap, topic)
    batch = {"batch_size": 0} if t["max_batch_records"] == 1 else {}  # 0 = one record per batch
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=1, **batch)
    try:
        futures = [producer.send(topic, key=b"k", value=b"%d" % i) for i in range(N)]
        producer.flush(timeout=30)
        offsets = [f.get(timeout=10).offset for f in futures]
    finally:
        producer.close()
    assert offsets == list(range(N))

    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, session_timeout_ms=t["session_timeout_ms"],
        heartbeat_interval_ms=t["heartbeat_interval_ms"],
    )
    try:
        seen: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(seen) < N and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(r.value for r in records)
        consumer.commit()
        committed = consumer.committed(TopicPartition(topic, 0))
    finally:
        consumer.close()
    assert [int(v) for v in seen] == list(range(N))
    assert committed == N


async def test_faust_agent_counts_events(broker, tmp_path):
    import faust

    t = tuning(broker.kind)
    run = uuid.uuid4().hex[:8]
    kwargs = dict(
        broker=broker.url, store="memory://", datadir=str(tmp_path / "faust"), web_enabled=False,
        topic_partitions=1, topic_replication_factor=1, consumer_auto_offset_reset="earliest",
        broker_session_timeout=t["session_timeout_ms"] / 1000,
        broker_heartbeat_interval=t["heartbeat_interval_ms"] / 1000, loghandlers=[],
    )
    if t["max_batch_records"]:
        kwargs["producer_max_batch_size"] = t["max_batch_records"]
    app = faust.App(f"compat-faust-{run}", **kwargs)
    # internal=True: faust creates the topic before it subscribes. Without that, Apache Kafka
    # assigns nothing at the first rebalance (the topic does not exist yet) and the consumer
    # only notices the topic at its next metadata refresh (consumer_metadata_max_age_ms, 5 min).
    topic = app.topic(f"compat-faust-{run}", value_type=bytes, value_serializer="raw", internal=True)
    seen: list[int] = []
    done = asyncio.Event()

    @app.agent(topic)
    async def count(stream):
        async for value in stream:
            seen.append(int(value))
            if len(seen) >= N:
                done.set()

    await app.start()
    try:
        for i in range(N):
            await topic.send(value=b"%d" % i)
        await asyncio.wait_for(done.wait(), timeout=90)
    finally:
        await app.stop()
    assert sorted(seen) == list(range(N))
