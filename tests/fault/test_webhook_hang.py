"""Every webhook hangs (accepts, never answers) or answers 500: deliveries are retried with backoff
and given up, email still arrives, the event stream keeps flowing, failures show on /metrics."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import pytest
import yaml

from pipeline.emitter import Emitter
from schemas.events import Channel, IncidentEvent, Severity
from tests.fault.helpers import Clock, figures, stored_events
from tests.support.factories import make_order
from tests.support.proxy import TcpProxy
from tests.support.receivers import SmtpReceiver, WebhookReceiver
from tests.support.services import ROOT, metric_value, query, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ATTEMPTS = 3


def directory_with_webhooks(tmp, url: str):
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    for person in directory["people"]:
        person["webhook"] = f"{url}/p/{person['id']}"
    path = tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(directory))
    return path


@pytest.mark.parametrize("mode", ["hang", "http500"])
def test_a_broken_webhook_is_retried_and_blocks_nothing(mode, broker, make_worker, db_url, run_id, tmp_path):
    clock = Clock()
    with SmtpReceiver() as smtp, WebhookReceiver(fail_first=10**9) as failing, TcpProxy("127.0.0.1", 9) as hanging:
        if mode == "hang":
            hanging.cut("hang")  # accepts every connection and never answers
        url = f"http://127.0.0.1:{hanging.port}" if mode == "hang" else failing.url
        worker = make_worker(SALESPULSE_PATHS__DIRECTORY=directory_with_webhooks(tmp_path, url),
                             SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port,
                             SALESPULSE_NOTIFY__TIMEOUT_S=1, SALESPULSE_NOTIFY__MAX_ATTEMPTS=ATTEMPTS)
        worker.wait_ready()
        # labelled failure counters exist at zero before any failure (alerts can use rate() at once)
        page = worker.metrics()
        assert 'salespulse_notification_failures_total{channel="webhook",kind="transient"} 0.0' in page
        assert 'salespulse_notification_failures_total{channel="email",kind="transient"} 0.0' in page

        now = datetime.now(timezone.utc)
        incidents = [IncidentEvent(occurred_at=now, channel=Channel.phone, customer_id=f"c-{run_id}-{i}",
                                   incident_key=f"hang-{run_id}-{i}", severity=Severity.high, category="delivery",
                                   title=f"incident {i}", region=("north", "south")[i % 2]) for i in range(6)]
        orders = [make_order(order_id=f"o-{run_id}-{i}", customer_id=f"c{i % 40}") for i in range(400)]
        started = clock()
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            for ev in incidents:
                em.emit(ev)
            em.flush()
            for ev in orders:  # sent while every webhook delivery is stuck
                em.emit(ev)
        sent = len(incidents) + len(orders)

        # the stream keeps flowing while webhooks hang: every event is stored long before the
        # first delivery could have been given up (ATTEMPTS x 1 s timeout + 0.5 + 1 s backoff)
        wait_until(lambda: stored_events(db_url) >= sent, timeout=60, interval=0.25, message="events stored")
        stored_s = clock() - started
        # other channels still deliver: one email per paged person with an address
        def emails_sent() -> float:
            return metric_value(worker.metrics(), "salespulse_notifications_sent_total", channel="email")

        wait_until(lambda: smtp.messages and emails_sent() >= len(smtp.messages), timeout=30, message="emails delivered")
        emails_s = clock() - started

        # webhooks: retried, then given up, and counted
        def webhook_failures() -> float:
            return metric_value(worker.metrics(), "salespulse_notification_failures_total", channel="webhook",
                                kind="transient")

        wait_until(lambda: webhook_failures() > 0, timeout=60, interval=0.5, message="webhook failures on /metrics")
        wait_until(lambda: webhook_failures() == len(query(
            db_url, "SELECT id FROM incident_audit WHERE channel = 'webhook' AND action = 'notify:failed'")),
            timeout=20, message="audit rows of the failures")
        rows = query(db_url, "SELECT notification_id, recipient, action, at FROM incident_audit "
                             "WHERE channel = 'webhook' ORDER BY at")
        attempts: dict = defaultdict(list)
        for nid, recipient, action, at in rows:
            attempts[(nid, recipient)].append((action, at if isinstance(at, datetime) else datetime.fromisoformat(at)))
        gaps = []
        for key, seq in attempts.items():
            if seq[-1][0] != "notify:failed":
                continue
            assert [a for a, _ in seq] == ["notify:retrying"] * (ATTEMPTS - 1) + ["notify:failed"], (key, seq)
            times = [t for _, t in seq]
            gaps.append([(b - a).total_seconds() for a, b in zip(times, times[1:])])
        assert gaps, rows
        # backoff grows: base 0.5 s then 1 s (+-10%), on top of the attempt itself
        for g in gaps:
            assert g[1] > g[0] - 0.2, g
            assert all(x >= 0.4 for x in g), g
        assert worker.proc.poll() is None
        assert metric_value(worker.metrics(), "salespulse_notifications_sent_total", channel="webhook") == 0
        figures(f"webhook_{mode}", broker=broker.kind, database=db_url.split(":", 1)[0], events_sent=sent,
                events_stored=stored_events(db_url), stored_s=stored_s, emails=len(smtp.messages),
                emails_s=emails_s, webhook_failures=int(webhook_failures()), webhook_attempt_gaps_s=gaps[0],
                hanging_connections=hanging.refused)
