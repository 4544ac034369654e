"""Two workers, real SMTP and webhook receivers, a policy in seconds, one worker killed mid-escalation:
every expected notification arrives exactly once, an ack stops the chain, the audit trail is complete."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from agents.escalation.policy import load_policy
from agents.escalation.simulate import simulate
from pipeline import topics as T
from pipeline.emitter import Emitter
from schemas.escalation import IncidentCommand
from schemas.events import Channel, IncidentEvent, Severity
from tests.support.receivers import SmtpReceiver, WebhookReceiver
from tests.support.services import ROOT, metric_value, query, wait_until

pytestmark = pytest.mark.e2e

TIMEOUTS_MIN = {"account_rep": 0.03, "team_lead": 0.05, "sales_manager": 0.05, "director": 0.05}


def short_policy(tmp: Path, webhook_url: str) -> tuple[Path, Path]:
    """The shipped policy with timeouts in seconds, and a directory whose people have webhooks."""
    policy = yaml.safe_load((ROOT / "config" / "escalation.yaml").read_text())
    for level in policy["levels"]:
        level["ack_timeout_minutes"] = TIMEOUTS_MIN[level["name"]]
    policy["storm"]["threshold"] = 1000  # storms are tested elsewhere
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    for person in directory["people"]:
        person["webhook"] = f"{webhook_url}/p/{person['id']}"
    p, d = tmp / "policy.yaml", tmp / "directory.yaml"
    p.write_text(yaml.safe_dump(policy))
    d.write_text(yaml.safe_dump(directory))
    return p, d


def incident(key: str, severity: Severity, region: str) -> IncidentEvent:
    return IncidentEvent(occurred_at=datetime.now(timezone.utc), channel=Channel.phone, customer_id=f"cust-{key}",
                         incident_key=key, severity=severity, category="delivery", title=f"incident {key}",
                         region=region)


def test_escalation_survives_a_killed_worker_and_acks_stop_it(broker, make_worker, db_url, run_id, tmp_path):
    with WebhookReceiver() as hooks, SmtpReceiver() as smtp:
        policy_path, directory_path = short_policy(tmp_path, hooks.url)
        env = dict(SALESPULSE_PATHS__ESCALATION_POLICY=policy_path, SALESPULSE_PATHS__DIRECTORY=directory_path,
                   SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port,
                   SALESPULSE_NOTIFY__SWEEP_INTERVAL_S=0.2)
        w1, w2 = make_worker("w1", **env), make_worker("w2", **env)
        w1.wait_ready()
        w2.wait_ready()
        wait_until(lambda: all(metric_value(w.metrics(), "salespulse_partitions_assigned") > 0 for w in (w1, w2)),
                   timeout=60, message="partitions shared by two workers")

        prefix = f"t{run_id}."
        chained = [incident(f"chain-{run_id}-{i}", Severity.high, "north") for i in range(4)]
        acked = incident(f"acked-{run_id}", Severity.critical, "south")
        with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
            for ev in chained + [acked]:
                em.emit(ev)
            em.flush()
            # acknowledge the critical incident as soon as its first page arrives
            wait_until(lambda: any(b["incident_key"] == acked.incident_key for b in hooks.bodies()), timeout=30,
                       message="first page of the critical incident")
            ack = IncidentCommand(occurred_at=datetime.now(timezone.utc), type="ack",
                                  incident_key=acked.incident_key, by="lead-south")
            em._producer.send(T.topic_name(T.INCIDENT_COMMANDS, prefix), key=ack.incident_key.encode(),
                              value=ack.model_dump_json().encode())
            em.flush()
        time.sleep(2.5)  # mid-escalation: the chained incidents are at level 2 or 3
        w1.kill()

        # expected: the same events replayed offline (same code), with the ack in time
        policy = load_policy(policy_path, directory_path)
        lines = [e.model_dump_json() for e in chained + [acked]] + [
            json.dumps({"type": "ack", "incident_key": acked.incident_key, "by": "lead-south",
                        "occurred_at": acked.occurred_at.isoformat()})]
        expected_alerts = simulate(lines, policy).alerts
        expected = Counter((str(a.notification_id), t.id) for a in expected_alerts for t in a.targets)
        assert sum(1 for a in expected_alerts if a.incident_key == acked.incident_key) == 2  # team lead + director
        assert len({a.loop for a in expected_alerts}) == 2  # the chain repeats once

        def received():
            return Counter((b["notification_id"], path.rsplit("/", 1)[-1]) for _, path, b in hooks.received)

        wait_until(lambda: set(received()) >= set(expected), timeout=90, interval=0.5,
                   message=f"all {len(expected)} webhook notifications")
        time.sleep(3.0)  # anything extra or repeated would arrive now
        got = received()
        assert got == expected, {"missing": expected - got, "extra": got - expected}
        # email: every person with an address got each page once
        mails = Counter((m["notification_id"], m["to"][0].split("@")[0]) for m in smtp.messages)
        assert mails == expected
        # no page for the acked incident after the ack
        ack_page = [b for b in hooks.bodies() if b["incident_key"] == acked.incident_key]
        assert {b["level_name"] for b in ack_page} == {"team_lead", "director"}

        # the audit trail in SQL
        def delivered():
            return Counter((n, r) for n, r in query(
                db_url, "SELECT notification_id, recipient FROM incident_audit "
                        "WHERE action = 'notify:delivered' AND channel = 'webhook'"))
        wait_until(lambda: delivered() == expected, timeout=15, message="audit rows of every delivery")
        acks = query(db_url, "SELECT actor FROM incident_audit WHERE action = 'acknowledged' AND incident_key = :k",
                     k=acked.incident_key)
        assert acks == [("lead-south",)]
        states = dict(query(db_url, "SELECT incident_key, status FROM incidents"))
        assert states[acked.incident_key] == "acknowledged"
        assert all(states[e.incident_key] == "triggered" for e in chained)
        assert w2.proc.poll() is None
