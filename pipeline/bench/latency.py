"""Phase 4, end-to-end latency: events stamped with the send time at a steady rate -> the time
to the output event, to the worker taking them and to their SQL row."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pipeline import topics as T
from pipeline.bench.figures import latency_summary, percentile, rounded
from pipeline.bench.preload import wait_for_partitions


PLACEHOLDER_AT = datetime(2000, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
_PLACEHOLDER = b'"occurred_at":"2000-01-01T00:00:00.123456Z"'


def stamp_occurred_at(body: bytes, now: datetime) -> bytes:
    """A body serialised with occurred_at = PLACEHOLDER_AT, with `now` (UTC) there instead."""
    if body.count(_PLACEHOLDER) != 1:
        raise ValueError("body without exactly one placeholder occurred_at")
    return body.replace(_PLACEHOLDER, b'"occurred_at":"' + now.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode() + b'"', 1)


LATENCY_TICK_S = 0.01


async def latency_run(bootstrap: str, prefix: str, db_path: Path | None, rate_per_s: float, seconds: float,
                      seed: int, settle_s: float = 15.0, tick_s: float = LATENCY_TICK_S,
                      mark: Callable[[str], None] | None = None) -> dict:
    """Feedback and order events with occurred_at = now at a steady rate; latency to the
    classified output event (consumed here) and to the row in the events table (polled).

    `mark("start")` is called when the clock starts and `mark("sent")` when the last event has
    gone out: the steady rate's window, without the planning before it (0.95 s of this harness's
    CPU for 29,000 events) and the settling after it.

    The events due are sent every `tick_s` (each stamped as it goes): at 500 events/s a 2 ms tick
    makes ~500 produce requests a second, and the harness (0.40 cores) and the broker then leave the
    worker so little of the two cores that backlogs form."""
    import orjson
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from pipeline.emitter import partition_key
    from pipeline.simulate import Simulator

    # Built before the clock starts (the harness shares the 2 cores with broker and worker): each
    # body carries a placeholder occurred_at, replaced by the send time as it goes out.
    sim = Simulator(seed=seed + 1)
    n = int(rate_per_s * seconds)
    planned: list[tuple[str, bytes, bytes, str, bool]] = []
    while len(planned) < n:
        ev = sim.next(PLACEHOLDER_AT)
        if ev.event_type not in ("feedback", "order"):
            continue
        body = ev.model_copy(update={"occurred_at": PLACEHOLDER_AT}).model_dump_json().encode()
        planned.append((prefix + T.TOPIC_FOR_EVENT_TYPE[ev.event_type].name, partition_key(ev), body,
                        str(ev.event_id), ev.event_type == "feedback"))
    sent: dict[str, float] = {}
    feedback_ids: set[str] = set()
    out_ms: list[float] = []
    out_classified_ms: list[float] = []
    sql_seen: dict[str, float] = {}
    taken: dict[str, float] = {}  # event id -> when the worker took it (events.received_at)
    acked: dict[str, float] = {}  # event id -> when the broker confirmed it to this harness
    stop = threading.Event()

    poller = None
    if db_path is not None:
        poller = threading.Thread(target=_poll_sql, args=(db_path, sql_seen, stop), kwargs={"taken": taken},
                                  daemon=True)
        poller.start()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    topic = prefix + T.FEEDBACK_CLASSIFIED.name
    parts = consumer.partitions_for_topic(topic) or await wait_for_partitions(consumer, topic)
    tps = [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for rec in records:
                    body = orjson.loads(rec.value)
                    at = sent.get(body.get("event_id"))
                    if at is not None:
                        out_ms.append((now - at) * 1000)
                        ca = body.get("classified_at")
                        if ca:
                            out_classified_ms.append((datetime.fromisoformat(ca).timestamp() - at) * 1000)

    reader = asyncio.create_task(consume())
    # normal batching: one record per batch makes each produce request carry one record per
    # partition, one request at a time, and the harness itself then queues the events ~100 ms
    # (p50) before the worker can see them
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks="all")
    await producer.start()
    try:
        if mark is not None:
            mark("start")
        start = time.monotonic()
        i = 0
        while i < n:
            due = min(n, int((time.monotonic() - start) * rate_per_s) + 1)
            while i < due:
                topic_name, key, body, eid, is_feedback = planned[i]
                now = datetime.now(timezone.utc)
                sent[eid] = now.timestamp()
                if is_feedback:
                    feedback_ids.add(eid)
                delivery = await producer.send(topic_name, value=stamp_occurred_at(body, now), key=key)
                delivery.add_done_callback(lambda f, eid=eid: acked.setdefault(eid, time.time()))
                i += 1
            await asyncio.sleep(tick_s)
        produced_s = time.monotonic() - start
        if mark is not None:
            mark("sent")
        await producer.flush()
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and (len(out_ms) < len(feedback_ids)
                                               or (poller and len(set(sent) & set(sql_seen)) < len(sent))):
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    result = {"rate_ev_per_s": round(rate_per_s, 1), "tick_ms": round(tick_s * 1000, 1), "offered": len(sent),
              "seconds": round(produced_s, 1),
              "to_output_event": latency_summary(out_ms, expected=len(feedback_ids)),
              "to_output_event_classified_at": latency_summary(out_classified_ms)}
    if poller is not None:
        poller.join(timeout=2)
        sql_ms = [(sql_seen[e] - at) * 1000 for e, at in sent.items() if e in sql_seen]
        result["to_sql_row"] = latency_summary(sql_ms, expected=len(sent))
        # a constant delay or a growing queue? the median of the first and the last 2 s sent
        t0 = min(sent.values(), default=0.0)
        t1 = max(sent.values(), default=0.0)
        first = [(sql_seen[e] - at) * 1000 for e, at in sent.items() if e in sql_seen and at - t0 <= 2]
        last = [(sql_seen[e] - at) * 1000 for e, at in sent.items() if e in sql_seen and t1 - at <= 2]
        result["to_sql_row"]["p50_first_2s_ms"] = rounded(percentile(first, 50))
        result["to_sql_row"]["p50_last_2s_ms"] = rounded(percentile(last, 50))
        # where the time goes: before the worker's handlers take the event (the harness's send,
        # the broker, the worker's fetch and faust's queues) and from there to the visible row
        result["to_broker_acked"] = latency_summary([(acked[e] - at) * 1000 for e, at in sent.items() if e in acked])
        result["to_worker_taken"] = latency_summary([(taken[e] - at) * 1000 for e, at in sent.items() if e in taken])
        result["taken_to_sql_row"] = latency_summary([(sql_seen[e] - taken[e]) * 1000 for e in sent
                                                      if e in taken and e in sql_seen])
    return result


def _poll_sql(db_path: Path, seen: dict[str, float], stop: threading.Event, every_s: float = 0.02,
              taken: dict[str, float] | None = None) -> None:
    """New rows of the events table every 20 ms (by rowid), noting when each id became visible
    and, in `taken`, when the worker took the event (its received_at, as a POSIX time)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
    try:
        last = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        while not stop.is_set():
            try:
                rows = conn.execute("SELECT rowid, event_id, received_at FROM events WHERE rowid > ?",
                                    (last,)).fetchall()
            except sqlite3.OperationalError:  # locked by the writer: next tick
                rows = []
            now = time.time()
            for rowid, eid, received_at in rows:
                eid = str(eid)
                seen.setdefault(eid, now)
                if taken is not None and received_at:
                    taken.setdefault(eid, _posix(received_at))
                last = max(last, rowid)
            stop.wait(every_s)
    finally:
        conn.close()


def _posix(stored: str) -> float:
    """A timestamp as SQLAlchemy stores it in SQLite (ISO text, UTC, offset or none) -> POSIX time."""
    at = datetime.fromisoformat(stored)
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()
