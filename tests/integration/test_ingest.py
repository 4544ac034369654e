"""Valid, malformed, schema-violating and duplicate events through a real broker and worker."""

from __future__ import annotations

import base64
import json

import pytest

from pipeline.emitter import Emitter
from tests.support.factories import make_feedback, make_funnel, make_order
from tests.support.services import metric_value, query, read_topic, wait_until

pytestmark = pytest.mark.integration


def test_valid_stored_once_bad_to_deadletter_worker_keeps_going(broker, make_worker, db_url, run_id):
    worker = make_worker()
    worker.wait_ready()
    prefix = f"t{run_id}."
    valid = [make_order(order_id=f"o{i}", customer_id=f"c{i % 7}") for i in range(40)]
    valid += [make_feedback(customer_id=f"c{i}") for i in range(10)] + [make_funnel()]
    bad = {
        b"\xff\xfe not utf-8": "invalid_utf8",
        b'{"event_type": "order", ': "invalid_json",
        json.dumps({**json.loads(valid[0].model_dump_json()), "amount": "lots"}).encode(): "schema_violation",
        json.dumps({**json.loads(valid[1].model_dump_json()), "surprise": 1}).encode(): "schema_violation",
        valid[2].model_dump_json().replace('"+00:00"', '"').replace("Z\"", "\"").encode(): "schema_violation",
        make_feedback().model_dump_json().encode(): "wrong_topic",
    }
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for ev in valid[:25]:
            em.emit(ev)
        for raw in bad:
            em.emit_raw("orders", raw, key=b"k")
        for ev in valid[:10]:  # redelivered duplicates: same event ids
            em.emit(ev)
        for ev in valid[25:]:  # the worker must still be consuming after the bad ones
            em.emit(ev)

    def stored():
        return query(db_url, "SELECT count(*), count(DISTINCT event_id) FROM events")[0]

    wait_until(lambda: stored()[0] >= len(valid), timeout=60, message="all valid events stored")
    total, distinct = stored()
    assert total == distinct == len(valid)
    ids = {r[0] for r in query(db_url, "SELECT event_id FROM events")}
    assert ids == {str(e.event_id) for e in valid}

    letters = read_topic(broker.bootstrap, f"{prefix}deadletter", expect=len(bad))
    assert len(letters) == len(bad)
    by_value = {base64.b64decode(json.loads(r.value)["value_b64"]): json.loads(r.value) for r in letters}
    for raw, reason in bad.items():
        assert raw in by_value, f"missing dead letter for {raw[:40]!r}"
        rec = by_value[raw]
        assert rec["reason"] == reason, rec
        assert rec["source_topic"] == f"{prefix}orders" and rec["source_offset"] >= 0
        assert rec["detail"]
    sql_letters = query(db_url, "SELECT reason, value FROM dead_letters")
    assert sorted(r for r, _ in sql_letters) == sorted(bad.values())

    page = worker.metrics()
    assert metric_value(page, "salespulse_events_invalid_total", topic=f"{prefix}orders") == len(bad)
    assert metric_value(page, "salespulse_events_duplicate_total") == 10
    assert metric_value(page, "salespulse_events_processed_total") == len(valid)
    # a subset of the page, as prometheus_client's handler serves ?name[]= (the bench polls so)
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    wanted = ["salespulse_events_duplicate_total", "salespulse_writer_pending_events"]
    subset = httpx.get(worker.base_url + "/metrics", params=[("name[]", n) for n in wanted], timeout=5).text
    names = {s.name for f in text_string_to_metric_families(subset) for s in f.samples}
    assert names == set(wanted), names
    assert metric_value(subset, "salespulse_events_duplicate_total") == 10
    assert worker.proc.poll() is None
