"""Compressed record batches (gzip, snappy, lz4, zstd) from aiokafka and Apache Kafka's Java producer,
and a batch the worker cannot read, through a real broker and worker."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.brokers.apache import ensure_libs
from tests.support.factories import make_feedback, make_order
from tests.support.services import broker_kinds, query, read_topic, wait_until

pytestmark = pytest.mark.integration

CODECS = ("gzip", "snappy", "lz4", "zstd")


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], codec: str | None) -> None:
    """All of `records` in one compressed batch per partition (sent together, then flushed)."""
    from aiokafka import AIOKafkaProducer

    async def _send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=50)
        await producer.start()
        try:
            sent = [await producer.send(topic, value, key=key) for key, value in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(_send())


def stored_ids(db_url: str) -> set[str]:
    return {r[0] for r in query(db_url, "SELECT event_id FROM events")}


def encoded(event) -> tuple[bytes, bytes]:
    return event.customer_id.encode(), event.model_dump_json().encode()


def test_every_codec_is_read(broker, make_worker, db_url, run_id):
    make_worker().wait_ready()
    prefix = f"t{run_id}."
    expected = set()
    for codec in CODECS:
        orders = [make_order(customer_id="c-codec") for _ in range(3)]  # one key: one batch of three records
        feedback = [make_feedback(customer_id="c-codec", text=f"The {codec} parcel arrived late")]
        produce(broker.bootstrap, f"{prefix}orders", [encoded(e) for e in orders], codec)
        produce(broker.bootstrap, f"{prefix}feedback.raw", [encoded(e) for e in feedback], codec)
        expected |= {str(e.event_id) for e in orders + feedback}
    canary = make_order(customer_id="c-codec")
    produce(broker.bootstrap, f"{prefix}orders", [encoded(canary)], None)
    expected.add(str(canary.event_id))

    wait_until(lambda: expected <= stored_ids(db_url), timeout=60, message="every compressed event stored")
    assert query(db_url, "SELECT count(*) FROM dead_letters") == [(0,)]


@pytest.fixture
def without_codecs(tmp_path) -> str:
    """A PYTHONPATH on which `import cramjam` fails: aiokafka then has no snappy, lz4 or zstd codec,
    as a worker installed without them had."""
    shim = tmp_path / "no-codecs"
    shim.mkdir()
    (shim / "cramjam.py").write_text('raise ImportError("cramjam hidden by the test")\n')
    return os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)


def test_unreadable_batch_is_dead_lettered_and_the_partition_reads_on(broker, make_worker, db_url, run_id,
                                                                     without_codecs):
    worker = make_worker(PYTHONPATH=without_codecs)
    worker.wait_ready()
    prefix = f"t{run_id}."
    first = make_order(customer_id="c-bad")
    unreadable = [make_order(customer_id="c-bad") for _ in range(2)]
    canary = make_order(customer_id="c-bad")  # same key: the same partition, after the unreadable batch
    produce(broker.bootstrap, f"{prefix}orders", [encoded(first)], None)
    produce(broker.bootstrap, f"{prefix}orders", [encoded(e) for e in unreadable], "snappy")
    produce(broker.bootstrap, f"{prefix}orders", [encoded(canary)], None)

    wait_until(lambda: str(canary.event_id) in stored_ids(db_url), timeout=60, message="the event after it stored")
    assert stored_ids(db_url) == {str(first.event_id), str(canary.event_id)}
    placed = query(db_url, "SELECT partition, \"offset\" FROM events WHERE event_id = :id", id=str(canary.event_id))
    partition, canary_offset = placed[0]

    rows = query(db_url, "SELECT reason, source_topic, source_partition, source_offset, detail, value FROM dead_letters")
    assert len(rows) == 1, rows
    reason, topic, dl_partition, offset, detail, value = rows[0]
    assert (reason, topic, dl_partition, offset) == ("undecodable_record", f"{prefix}orders", partition, canary_offset - 2)
    assert f"offsets {canary_offset - 2}-{canary_offset - 1}" in detail and "UnsupportedCodecError" in detail
    assert value == b""
    letters = read_topic(broker.bootstrap, f"{prefix}deadletter", expect=1)
    record = json.loads(letters[0].value)
    assert (record["reason"], record["source_offset"]) == ("undecodable_record", canary_offset - 2)
    assert worker.proc.poll() is None

    # after a restart the committed offset is past the batch: no second dead letter, nothing redone
    assert worker.stop() == 0
    worker.start().wait_ready()
    later = make_order(customer_id="c-bad")
    produce(broker.bootstrap, f"{prefix}orders", [encoded(later)], None)
    wait_until(lambda: str(later.event_id) in stored_ids(db_url), timeout=60, message="the next event stored")
    assert query(db_url, "SELECT count(*) FROM dead_letters") == [(1,)]


JAVA_PRODUCER = """
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/** args: bootstrap topic codec, then one "key<TAB>value" line per record on stdin. */
public class CodecProducer {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("compression.type", args[2]);
        p.put("linger.ms", "50");
        p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p);
             java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, "UTF-8"))) {
            for (String line; (line = in.readLine()) != null; ) {
                String[] kv = line.split("\\t", 2);
                producer.send(new ProducerRecord<>(args[1], kv[0], kv[1]));
            }
            producer.flush();
        }
    }
}
"""


def java_produce(libs: Path, workdir: Path, bootstrap: str, topic: str, events: list, codec: str) -> None:
    source = workdir / "CodecProducer.java"
    source.write_text(JAVA_PRODUCER)
    lines = "".join(f"{key.decode()}\t{value.decode()}\n" for key, value in map(encoded, events))
    done = subprocess.run([shutil.which("java") or "java", "-cp", str(libs / "*"), str(source), bootstrap, topic, codec],
                          input=lines.encode(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-3000:]


KAFKA_TIER = [k for k in broker_kinds() if k == "kafka"]

if KAFKA_TIER:  # Apache Kafka's own client: only where the tier runs its broker (and its jars are there)
    @pytest.mark.parametrize("broker", KAFKA_TIER, indirect=True)
    def test_java_producer_codecs(broker, make_worker, db_url, run_id, tmp_path):
        make_worker().wait_ready()
        prefix = f"t{run_id}."
        libs = ensure_libs()
        expected = set()
        for codec in ("snappy", "lz4", "zstd", "gzip"):
            orders = [make_order(customer_id=f"c-java-{codec}") for _ in range(3)]
            feedback = [make_feedback(customer_id=f"c-java-{codec}", text=f"Der {codec} Versand war schnell")]
            java_produce(libs, tmp_path, broker.bootstrap, f"{prefix}orders", orders, codec)
            java_produce(libs, tmp_path, broker.bootstrap, f"{prefix}feedback.raw", feedback, codec)
            expected |= {str(e.event_id) for e in orders + feedback}
        wait_until(lambda: expected <= stored_ids(db_url), timeout=90, message="every Java-produced event stored")
        assert query(db_url, "SELECT count(*) FROM dead_letters") == [(0,)]
