"""Business signals on a real broker: a complaint spike becomes one incident that pages the region's sales
manager, the same incident `salespulse signals replay` prints; with two workers that both see the spike,
still one incident and one page."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from pipeline import topics as T
from pipeline.emitter import Emitter
from schemas.events import OrderEvent
from tests.support.receivers import SmtpReceiver
from tests.support.services import metric_value, query, wait_until
from tests.support.signal_events import KETTLE, spike

pytestmark = pytest.mark.integration


def partition_of(key: str, partitions: int = 4) -> int:
    """The partition kafka-python's default partitioner gives a key (the Emitter's)."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def customers_on_every_partition(run_id: str, partitions: int = 4) -> list[str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        cid = f"sig-{run_id}-{i}"
        found.setdefault(partition_of(cid, partitions), cid)
        i += 1
    return [found[p] for p in sorted(found)]


def hour_ago(hours: int) -> datetime:
    """A whole hour `hours` back: the burst then falls in one bucket (config/signals.yaml: hourly)."""
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def send(broker, run_id: str, workers, events) -> None:
    """Orders first, and only once every worker has taken them, then the feedback in order: a complaint's
    order must be known where the complaint arrives (different topics are consumed independently)."""
    prefix = f"t{run_id}."
    orders = [e for e in events if isinstance(e, OrderEvent)]
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for e in orders:
            em.emit(e)
        em.flush()
        topic = T.topic_name(T.ORDERS, prefix)
        wait_until(lambda: sum(metric_value(w.metrics(), "salespulse_events_processed_total", topic=topic)
                               for w in workers) >= len(orders), timeout=60, message="orders processed")
        for e in events:
            if not isinstance(e, OrderEvent):
                em.emit(e)
        em.flush()


def signal_incidents(db_url: str) -> dict[str, tuple]:
    return {k: (c, s, cat, r) for k, c, s, cat, r in query(
        db_url, "SELECT incident_key, count, severity, category, region FROM incidents "
                "WHERE incident_key LIKE 'signal:%'")}


def replay_lines(tmp_path, events, now: datetime) -> list[dict]:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in events))
    out = subprocess.run([sys.executable, "-m", "agents.cli.main", "signals", "replay", str(path),
                          "--now", now.isoformat()], capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(x) for x in out.stdout.splitlines()]


def test_a_complaint_spike_pages_the_regions_sales_manager_as_replay_says(broker, make_worker, db_url, run_id, tmp_path):
    with SmtpReceiver() as smtp:
        w = make_worker("w1", SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port)
        w.wait_ready()
        wait_until(lambda: metric_value(w.metrics(), "salespulse_partitions_assigned") > 0, timeout=60,
                   message="partitions assigned")
        now = datetime.now(timezone.utc)
        events = spike(hour_ago(28), customer=f"sig-{run_id}")
        send(broker, run_id, [w], events)

        expected = replay_lines(tmp_path, events, now)
        keys = {x["incident_key"] for x in expected}
        assert {x["subject"] for x in expected} == {f"sku:{KETTLE}", "category:kitchen", "region:north"}
        found = wait_until(lambda: (lambda got: got if set(got) >= keys else None)(signal_incidents(db_url)),
                           timeout=90, message="the signal incidents in SQL")
        assert set(found) == keys
        assert all(v[1:] == ("high", "market_signal", "north") for v in found.values())
        # the worker's incidents carry the evidence replay printed, figure for figure
        stored = {json.loads(p)["incident_key"]: json.loads(p)["evidence"] for (p,) in query(
            db_url, "SELECT payload FROM events WHERE event_type = 'incident'")}
        assert {k: stored[k] for k in keys} == {x["incident_key"]: x["evidence"] for x in expected}
        assert metric_value(w.metrics(), "salespulse_signals_fired_total", kind="complaint_rate") == 3

        def pages() -> Counter:
            return Counter(m["to"][0] for m in smtp.messages)
        wait_until(lambda: pages()["manager-north@salespulse.example"] >= 3, timeout=60,
                   message="the sales manager north paged")
        assert set(pages()) == {"manager-north@salespulse.example"}


def test_two_workers_that_both_see_the_spike_raise_one_incident(broker, make_worker, db_url, run_id, tmp_path):
    with SmtpReceiver() as smtp:
        env = dict(SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port)
        w1, w2 = make_worker("w1", **env), make_worker("w2", **env)
        w1.wait_ready()
        w2.wait_ready()
        wait_until(lambda: all(metric_value(w.metrics(), "salespulse_partitions_assigned") > 0 for w in (w1, w2)),
                   timeout=60, message="partitions shared by two workers")
        start = hour_ago(28)
        # the same spike from a customer on every partition: each worker sees it in its own customers
        events = [e for cid in customers_on_every_partition(run_id) for e in spike(start, customer=cid)]
        send(broker, run_id, [w1, w2], events)

        # both raise it, each with what it saw: one incident (the key) and one page. Workers that saw the same
        # counts send the same event (the second is dropped as a redelivery); different counts, two events
        # that the incident key merges. Never a conflicting duplicate in the dead letters.
        wait_until(lambda: all(metric_value(w.metrics(), "salespulse_signals_fired_total", kind="complaint_rate") >= 3
                               for w in (w1, w2)), timeout=90, message="the spike seen by both workers")
        sku = wait_until(lambda: [k for k in signal_incidents(db_url) if f"sku:{KETTLE}" in k], timeout=30,
                         message="the SKU incident in SQL")
        assert len(sku) == 1 and sku[0].startswith(f"signal:complaint_rate:sku:{KETTLE}@")
        raised = query(db_url, "SELECT count(*) FROM events WHERE event_type = 'incident' AND payload LIKE :k",
                       k=f'%"incident_key":"{sku[0]}"%')[0][0]
        incidents_raw = T.topic_name(T.INCIDENTS_RAW, f"t{run_id}.")
        duplicates = sum(metric_value(w.metrics(), "salespulse_events_duplicate_total", topic=incidents_raw)
                         for w in (w1, w2))
        assert raised == 2 or duplicates >= 1, (raised, duplicates)
        assert query(db_url, "SELECT count(*) FROM dead_letters")[0][0] == 0
        wait_until(lambda: any(m["to"] == ["manager-north@salespulse.example"] for m in smtp.messages), timeout=60,
                   message="the sales manager north paged")
        import time
        time.sleep(2.0)  # a second page would arrive now
        per_incident = Counter(m["subject"] for m in smtp.messages if KETTLE in (m["subject"] or ""))
        assert per_incident and all(n == 1 for n in per_incident.values()), per_incident
