"""SIGTERM: in-flight events finished and committed, the worker gone within 10 s; a restart redoes nothing."""

from __future__ import annotations

import signal
import time

import pytest

from pipeline.emitter import Emitter
from tests.support.factories import make_order
from tests.support.services import metric_value, query, wait_until

pytestmark = pytest.mark.e2e


def test_sigterm_is_graceful_and_loses_nothing(broker, make_worker, db_url, run_id):
    w = make_worker("w1")
    w.wait_ready()
    events = [make_order(order_id=f"o{i}", customer_id=f"c{i % 50}") for i in range(3000)]
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        for ev in events:
            em.emit(ev)
    wait_until(lambda: metric_value(w.metrics(), "salespulse_events_consumed_total") > 500, timeout=30,
               message="worker busy")
    started = time.monotonic()
    code = w.stop(signal.SIGTERM, timeout=30)
    took = time.monotonic() - started
    assert code == 0, w.log_tail()
    assert took < 10, f"shutdown took {took:.1f}s"
    stored = query(db_url, "SELECT count(*) FROM events")[0][0]
    # a second worker of the same group continues from the committed offsets: nothing lost
    w2 = make_worker("w2")
    w2.wait_ready()
    wait_until(lambda: query(db_url, "SELECT count(*) FROM events")[0][0] == len(events), timeout=60,
               message="every event stored")
    redone = metric_value(w2.metrics(), "salespulse_events_consumed_total")
    # what the first worker wrote was committed before it left: the second one reads only the rest
    assert redone <= len(events) - stored + 50, (stored, redone)
