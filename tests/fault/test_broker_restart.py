"""Apache Kafka stopped mid-stream and started again on the same port and log dir: the worker
resumes by itself and no event is lost. Its own broker: the session broker is not disturbed."""

from __future__ import annotations

import time

import httpx
import pytest

from pipeline.emitter import Emitter
from tests.fault.helpers import Clock, derived_incident_ids, figures, simulated, stored_events
from tests.support.services import WorkerProcess, broker_kinds, metric_value, query, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


@pytest.fixture
def own_kafka():
    if "kafka" not in broker_kinds():
        pytest.skip("needs Apache Kafka (SALESPULSE_TEST_BROKERS=kafka, tier 2): Tansu keeps its data in "
                    "memory only, so a restarted Tansu is an empty broker")
    from pipeline.brokers.apache import ApacheKafkaBroker

    broker = ApacheKafkaBroker().start()
    yield broker
    broker.stop()


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_pipeline_resumes_after_a_broker_restart(kill, own_kafka, db_url, run_id, tmp_path):
    n = 6_000
    events = simulated(n, seed=97, customers=800)
    half = n // 2
    sent_ids = {str(e.event_id) for e in events}
    derived = derived_incident_ids(events)  # produced by the worker to incidents.raw, across the restart
    expected_ids = sent_ids | derived
    worker = WorkerProcess(broker_url=own_kafka.url, flavour="kafka", database_url=db_url, app_id=f"sp-{run_id}",
                           topic_prefix=f"t{run_id}.", tmp=tmp_path, name="w1").start()
    clock = Clock()
    try:
        worker.wait_ready()
        with Emitter(own_kafka.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit_many(events[:half])
            em.flush()
        wait_until(lambda: stored_events(db_url) >= half // 3, timeout=120, interval=0.3, message="stream started")
        at_stop = stored_events(db_url)
        stopped_at = clock()
        own_kafka.halt(kill=kill)       # mid-stream: most of the first half is not processed yet
        time.sleep(5.0)
        down = httpx.get(worker.base_url + "/health/ready", timeout=10)
        own_kafka.resume()
        restarted_at = clock()
        assert worker.proc.poll() is None, "the worker survived the broker outage"
        with Emitter(own_kafka.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit_many(events[half:])
            em.flush()
        wait_until(lambda: expected_ids <= {r[0] for r in query(db_url, "SELECT event_id FROM events")},
                   timeout=240, interval=1.0, message=f"all {n} events in SQL after the restart")
        complete_at = clock()
        wait_until(lambda: httpx.get(worker.base_url + "/health/ready", timeout=10).status_code == 200,
                   timeout=60, message="ready again")
        page = worker.metrics()
        stored_ids = {r[0] for r in query(db_url, "SELECT event_id FROM events")}
        figures(f"broker_restart_{'sigkill' if kill else 'sigterm'}", broker="kafka", database=db_url.split(":", 1)[0],
                events_sent=n, events_stored=len(sent_ids & stored_ids), lost=len(sent_ids - stored_ids),
                derived_incidents=len(derived), derived_lost=len(derived - stored_ids),
                stored_at_stop=at_stop, broker_down_s=restarted_at - stopped_at, ready_while_down=down.status_code,
                all_stored_after_restart_s=complete_at - restarted_at,
                duplicates_ignored=int(metric_value(page, "salespulse_events_duplicate_total")),
                rebalances=int(metric_value(page, "salespulse_rebalances_total")))
        assert sent_ids <= stored_ids
        assert derived <= stored_ids, "incidents the worker produced while the broker restarted"
        assert down.status_code == 503 and down.json()["broker_connected"] is False, down.json()
    finally:
        worker.stop()
        print(f"----- worker log (tail) -----\n{worker.log_tail(4000)}")
