"""SIGTERM to a worker whose broker has gone: it still stops, cleanly and soon. Its own broker: the
session broker is not disturbed.

Before the fix a worker with its broker gone never stopped on SIGTERM (SIGKILL needed): aiokafka's
fetcher raised CancelledError while closing, so the consumer thread never reported its shutdown
(Tansu), or faust's final commit looked for the group coordinator forever (Apache Kafka). A record
the producer still holds (here a POST /events sent after the broker went) held aiokafka's producer
stop for its request timeout (20 minutes)."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest

from agents.ingest.web import hash_token

from pipeline.emitter import Emitter
from tests.support.factories import make_order
from tests.support.services import WorkerProcess, broker_kinds, metric_value, start_broker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.mark.parametrize("kind", broker_kinds())
def test_sigterm_stops_a_worker_whose_broker_is_gone(kind, db_url, run_id, tmp_path):
    broker = start_broker(kind)
    # a commit interval longer than the test: the events' offsets are still uncommitted when the
    # broker goes, so the final commit has work (with the default 1 s they were sometimes all
    # committed while Apache Kafka shut down, and the bounded path was not exercised)
    token = f"tok-web-{run_id}"
    worker = WorkerProcess(broker_url=broker.url, flavour=kind, database_url=db_url, app_id=f"sp-{run_id}",
                           topic_prefix=f"t{run_id}.", tmp=tmp_path, name="w1",
                           extra_env={"SALESPULSE_WORKER__COMMIT_INTERVAL_S": "600",
                                      "SALESPULSE_INGEST_HTTP__TOKENS_SHA256": json.dumps({"web": [hash_token(token)]}),
                                      "SALESPULSE_INGEST_HTTP__PRODUCE_TIMEOUT_S": "2"}).start()
    try:
        worker.wait_ready()
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            for i in range(200):
                em.emit(make_order(order_id=f"o{i}", customer_id=f"c{i % 20}"))
        wait_until(lambda: metric_value(worker.metrics(), "salespulse_events_consumed_total") >= 200,
                   timeout=60, message="events consumed")
        broker.stop()
        time.sleep(3.0)
        # a record the producer holds and can never deliver: aiokafka's producer stop waits for it
        late = make_order(order_id="late", customer_id="c-late")
        r = httpx.post(f"{worker.base_url}/events", content=late.model_dump_json(), timeout=30,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert r.status_code == 503, r.text
        started = time.monotonic()
        code = worker.stop(signal.SIGTERM, timeout=45)  # then SIGKILL: code -9
        took = time.monotonic() - started
        assert code == 0, (code, worker.log_tail())
        assert took < 30, f"stopping took {took:.1f}s"
        # the whole log: aiokafka's reconnect errors after the stop can be longer than any fixed tail
        log = worker.log_path.read_text(errors="replace")
        assert "uncommitted events are redelivered" in log, worker.log_tail()
        assert "producer did not stop within" in log, worker.log_tail()
    finally:
        worker.stop(signal.SIGKILL, timeout=10)
        broker.stop()
