"""A few hundred fuzzed garbage messages written straight to every input topic (kafka-python, no
emitter validation), interleaved with good events: each garbage message becomes one dead letter
with the reason the decoder gives offline, every good event is stored, the worker keeps going.
(tests/integration/test_ingest.py covers six hand-written bad messages on one topic.)"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from kafka import KafkaProducer

from pipeline import topics as T
from pipeline.decode import Rejected, decode
from tests.fault.helpers import Clock, figures, stored_events
from tests.support.factories import make_feedback, make_order
from tests.support.services import metric_value, query, wait_until
from tests.unit.test_fuzz import MAX_BYTES, control, mutants, random_text, valid_feedback

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

GARBAGE = 400


def garbage(rnd: random.Random) -> list[tuple[T.TopicSpec, bytes]]:
    """(topic, bytes) the decoders reject: mutants of good events, random bytes, deep nesting, odd text."""
    seeds = [make_order().model_dump_json().encode(), make_feedback().model_dump_json().encode(),
             b'{"type": "ack", "incident_key": "k", "by": "x"}']
    specs = [*T.INPUTS, T.INCIDENT_COMMANDS]
    out: list[tuple[T.TopicSpec, bytes]] = []
    while len(out) < GARBAGE:
        spec = rnd.choice(specs)
        kind = rnd.randint(0, 4)
        if kind == 0:
            raw = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 200)))
        elif kind == 1:
            raw = b"[" * rnd.randint(201, 5000)
        elif kind == 2:
            raw = random_text(rnd, 200).encode("utf-8", "surrogatepass")
        elif kind == 3:
            import json

            raw = json.dumps(valid_feedback(random_text(rnd, 100)) | {"extra": rnd.random()}).encode()
        else:
            raw = next(mutants(rnd.choice(seeds), rnd, 1))
        if spec is T.INCIDENT_COMMANDS:
            rejected = isinstance(control(raw), Rejected)
        else:
            expected = frozenset(t for t, s in T.TOPIC_FOR_EVENT_TYPE.items() if s == spec)
            rejected = isinstance(decode(raw, expected_types=expected, max_bytes=MAX_BYTES), Rejected)
        if rejected and raw:
            out.append((spec, raw))
    return out


def test_garbage_goes_to_dead_letters_and_good_events_flow(broker, make_worker, db_url, run_id):
    rnd = random.Random(20261126)
    bad = garbage(rnd)
    good = [make_order(order_id=f"o{i}", customer_id=f"c{i % 13}") for i in range(150)]
    good += [make_feedback(customer_id=f"c{i}", text="Delivery was fast, thanks") for i in range(50)]
    worker = make_worker()
    worker.wait_ready()
    prefix = f"t{run_id}."
    clock = Clock()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    try:
        stream = [("bad", s, raw) for s, raw in bad] + [("good", None, e) for e in good]
        rnd.shuffle(stream)
        for kind, spec, item in stream:
            if kind == "bad":
                key = rnd.choice([None, b"k", bytes(rnd.getrandbits(8) for _ in range(8))])
                producer.send(T.topic_name(spec, prefix), key=key, value=item)
            else:
                spec = T.TOPIC_FOR_EVENT_TYPE[item.event_type]
                producer.send(T.topic_name(spec, prefix), key=item.customer_id.encode(),
                              value=item.model_dump_json().encode())
        producer.flush()
    finally:
        producer.close()

    good_ids = {str(e.event_id) for e in good}
    wait_until(lambda: good_ids <= {r[0] for r in query(db_url, "SELECT event_id FROM events")}, timeout=90,
               interval=0.5, message="every good event stored")
    wait_until(lambda: query(db_url, "SELECT count(*) FROM dead_letters")[0][0] >= len(bad), timeout=60,
               interval=0.5, message="every garbage message dead-lettered")
    elapsed = clock()
    letters = query(db_url, "SELECT source_topic, value FROM dead_letters")
    assert len(letters) == len(bad)
    want = Counter((T.topic_name(s, prefix), raw) for s, raw in bad)
    got = Counter((t, bytes(v)) for t, v in letters)
    assert got == want
    page = worker.metrics()
    invalid = metric_value(page, "salespulse_events_invalid_total")
    assert invalid == len(bad)
    assert worker.proc.poll() is None
    figures("garbage_input", broker=broker.kind, database=db_url.split(":", 1)[0], garbage_sent=len(bad),
            dead_letters=len(letters), good_sent=len(good), good_stored=len(good_ids & {
                r[0] for r in query(db_url, "SELECT event_id FROM events")}), events_rows=stored_events(db_url),
            seconds=elapsed, reasons=dict(Counter(r for (r,) in query(db_url, "SELECT reason FROM dead_letters"))))
