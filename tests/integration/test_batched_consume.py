"""The consume loop takes a backlog in batches (at most worker.batch_max) and a quiet stream one event
at a time, on a real broker and worker (pipeline/consume.py)."""

from __future__ import annotations

import time

import pytest

from pipeline.emitter import Emitter
from tests.support.factories import make_order
from tests.support.services import metric_value, query, wait_until

pytestmark = pytest.mark.integration

BATCH_MAX = 40
BACKLOG = 1500


def _batches(page: str, topic: str) -> tuple[float, float, float, float]:
    """(batches, events in them, batches of one event, batches of at most BATCH_MAX)."""
    name = "salespulse_agent_batch_events"
    return (metric_value(page, name + "_count", topic=topic), metric_value(page, name + "_sum", topic=topic),
            metric_value(page, name + "_bucket", topic=topic, le="1.0"),
            metric_value(page, name + "_bucket", topic=topic, le="50.0"))


def test_backlog_in_batches_quiet_stream_one_at_a_time(make_worker, broker, db_url, run_id):
    prefix = f"t{run_id}."
    topic = f"{prefix}orders"
    first = make_worker("w1")
    first.wait_ready()  # creates the topics and the group; stopped, it leaves a backlog for the next
    first.stop()
    orders = [make_order(order_id=f"o{i}", customer_id=f"c{i % 97}") for i in range(BACKLOG)]
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for ev in orders:
            em.emit(ev)

    worker = make_worker("w2", SALESPULSE_WORKER__BATCH_MAX=BATCH_MAX)
    worker.wait_ready()

    def stored() -> int:
        return query(db_url, "SELECT count(*) FROM events")[0][0]

    wait_until(lambda: stored() >= BACKLOG, timeout=90, message="the backlog stored")
    assert stored() == BACKLOG
    wait_until(lambda: _batches(worker.metrics(), topic)[1] >= BACKLOG, timeout=30, message="every batch counted")
    batches, events, ones, within = _batches(worker.metrics(), topic)
    assert events == BACKLOG == metric_value(worker.metrics(), "salespulse_events_consumed_total", topic=topic)
    assert batches < BACKLOG / 4, f"a backlog of {BACKLOG} taken in {batches} batches: not batched"
    assert within == batches, "a batch above worker.batch_max (40)"
    # each batch is processed before the next is taken: every event acked after its rows
    wait_until(lambda: metric_value(worker.metrics(), "salespulse_writer_pending_events") == 0, timeout=30,
               message="every event acked")

    # caught up: events sent one by one, apart, are each a batch of one (no waiting for more)
    quiet = [make_order(order_id=f"q{i}", customer_id="c1") for i in range(5)]
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for i, ev in enumerate(quiet):
            em.emit(ev)
            em.flush()
            wait_until(lambda i=i: stored() == BACKLOG + i + 1, timeout=30, message="the quiet event stored")
            time.sleep(0.2)
    wait_until(lambda: _batches(worker.metrics(), topic)[1] >= BACKLOG + len(quiet), timeout=30,
               message="the quiet batches counted")
    after = _batches(worker.metrics(), topic)
    assert after[0] - batches == len(quiet) and after[2] - ones == len(quiet), (batches, ones, after)
