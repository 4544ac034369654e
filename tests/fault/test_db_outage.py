"""PostgreSQL unreachable for 30 s behind a TCP proxy while events keep arriving: readiness says
database false (503) within its 2 s bound, the worker recovers by itself, every event reaches SQL."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from pipeline.emitter import Emitter
from tests.fault.helpers import Clock, derived_incident_ids, figures, simulated, stored_events
from tests.support.proxy import TcpProxy
from tests.support.services import query, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OUTAGE_S = 30.0


def ready(worker) -> tuple[int, dict, float]:
    started = time.monotonic()
    r = httpx.get(worker.base_url + "/health/ready", timeout=10)
    return r.status_code, r.json(), time.monotonic() - started


@pytest.mark.parametrize("mode", ["hang"])
def test_database_outage_is_reported_and_survived(mode, broker, make_worker, db_url, run_id):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite is a local file: no network to cut (tier 2 runs this on PostgreSQL)")
    parts = urlsplit(db_url)
    n = 6_000
    events = simulated(n, seed=83, customers=800)
    thirds = [events[: n // 3], events[n // 3: 2 * n // 3], events[2 * n // 3:]]
    sent_ids = {str(e.event_id) for e in events}
    derived = derived_incident_ids(events)  # incidents the worker raises from feedback
    clock = Clock()
    with TcpProxy(parts.hostname, parts.port) as proxy:
        proxied = db_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
        worker = make_worker(SALESPULSE_DATABASE__URL=proxied, SALESPULSE_DATABASE__RETRY_MAX_S=2)
        worker.wait_ready()
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit_many(thirds[0])
            em.flush()
            first = {str(e.event_id) for e in thirds[0]}
            wait_until(lambda: first <= {r[0] for r in query(db_url, "SELECT event_id FROM events")}, timeout=120,
                       interval=0.5, message="first third stored")
            rows_at_cut = stored_events(db_url)

            cut_at = clock()
            proxy.cut(mode)  # existing connections reset, new ones never answered
            # events keep arriving during the outage
            sender = threading.Thread(target=lambda: (em.emit_many(thirds[1]), em.flush()), daemon=True)
            sender.start()
            probes = []
            detected_at = None
            while clock() - cut_at < OUTAGE_S:
                status, body, took = ready(worker)
                probes.append(took)
                if detected_at is None and status == 503 and body.get("database") is False:
                    detected_at = clock()
                time.sleep(0.5)
            sender.join(timeout=30)
            rows_during = stored_events(db_url) - rows_at_cut  # 0: nothing reaches SQL while it is cut
            assert worker.proc.poll() is None, "the worker survived the outage"
            proxy.restore()
            restored_at = clock()
            em.emit_many(thirds[2])
            em.flush()

        wait_until(lambda: ready(worker)[0] == 200, timeout=90, interval=0.5, message="ready again")
        ready_at = clock()
        wait_until(lambda: sent_ids | derived <= {r[0] for r in query(db_url, "SELECT event_id FROM events")},
                   timeout=180, interval=1.0, message=f"all {n} events in SQL")
        complete_at = clock()
        page = worker.metrics()
        worker.stop()  # before the proxy goes: its shutdown flush must not fail against a closed port
    stored_ids = {r[0] for r in query(db_url, "SELECT event_id FROM events")}
    lost = (sent_ids | derived) - stored_ids
    figures("db_outage", broker=broker.kind, mode=mode, events_sent=n, events_stored=len(sent_ids & stored_ids),
            derived_incidents=len(derived), lost=len(lost), outage_s=OUTAGE_S, sent_before_cut=len(thirds[0]),
            sent_during_outage=len(thirds[1]), rows_written_during_outage=rows_during,
            detected_after_s=None if detected_at is None else detected_at - cut_at,
            slowest_ready_probe_s=max(probes), ready_after_restore_s=ready_at - restored_at,
            all_stored_after_restore_s=complete_at - restored_at,
            db_write_errors=sum(float(line.split()[-1]) for line in page.splitlines()
                                if line.startswith("salespulse_db_write_errors_total{")))
    assert detected_at is not None and detected_at - cut_at < 15, "readiness reported the outage"
    assert max(probes) < 4.0, "readiness is bounded while the database does not answer"
    assert not lost
